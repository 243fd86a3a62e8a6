"""The automation service over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.integrations.v1 import automation_pb2 as pb
from crm.integrations.v1 import automation_pb2_grpc
from google.protobuf import empty_pb2, json_format

from crmkit.tokens import current_principal
from services.integrations.automation.domain import DISABLED, ENABLED
from services.integrations.automation.messages import (
    execution_to_proto,
    fields_from_proto,
    planned_to_proto,
    rule_to_proto,
)
from services.integrations.automation.usecases import Automation


class AutomationServicer(automation_pb2_grpc.AutomationServiceServicer):
    def __init__(self, automation: Automation) -> None:
        self.automation = automation

    def CreateAutomationRule(
        self, request: pb.CreateAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.AutomationRule:
        return rule_to_proto(self.automation.create(current_principal(), fields_from_proto(request.automation_rule)))

    def GetAutomationRule(
        self, request: pb.GetAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.AutomationRule:
        return rule_to_proto(self.automation.get(current_principal(), request.id))

    def ListAutomationRules(
        self, request: pb.ListAutomationRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListAutomationRulesResponse:
        found, token = self.automation.page(current_principal(), request.page_size, request.page_token)
        return pb.ListAutomationRulesResponse(automation_rules=[rule_to_proto(r) for r in found], next_page_token=token)

    def UpdateAutomationRule(
        self, request: pb.UpdateAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.AutomationRule:
        updated = self.automation.update(
            current_principal(),
            request.id,
            fields_from_proto(request.automation_rule),
            list(request.update_mask.paths),
            request.automation_rule.etag,
        )
        return rule_to_proto(updated)

    def DeleteAutomationRule(
        self, request: pb.DeleteAutomationRuleRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.automation.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    def EnableAutomationRule(
        self, request: pb.EnableAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.AutomationRule:
        return rule_to_proto(self.automation.set_state(current_principal(), request.id, ENABLED))

    def DisableAutomationRule(
        self, request: pb.DisableAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.AutomationRule:
        return rule_to_proto(self.automation.set_state(current_principal(), request.id, DISABLED))

    def TestAutomationRule(
        self, request: pb.TestAutomationRuleRequest, context: grpc.ServicerContext
    ) -> pb.TestAutomationRuleResponse:
        data = json_format.MessageToDict(request.data)
        matched, reason, planned = self.automation.test(current_principal(), request.id, data)
        return pb.TestAutomationRuleResponse(
            matched=matched, reason=reason, actions=[planned_to_proto(p) for p in planned]
        )

    def ListAutomationRuleExecutions(
        self, request: pb.ListAutomationRuleExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.ListAutomationExecutionsResponse:
        found, token = self.automation.executions(
            current_principal(), request.rule_id, request.page_size, request.page_token
        )
        return pb.ListAutomationExecutionsResponse(
            executions=[execution_to_proto(e) for e in found], next_page_token=token
        )

    def ListAutomationExecutions(
        self, request: pb.ListAutomationExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.ListAutomationExecutionsResponse:
        found, token = self.automation.executions(current_principal(), None, request.page_size, request.page_token)
        return pb.ListAutomationExecutionsResponse(
            executions=[execution_to_proto(e) for e in found], next_page_token=token
        )

    def GetAutomationExecution(
        self, request: pb.GetAutomationExecutionRequest, context: grpc.ServicerContext
    ) -> pb.AutomationExecution:
        return execution_to_proto(self.automation.execution(current_principal(), request.id))
