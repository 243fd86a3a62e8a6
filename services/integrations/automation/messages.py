"""Automation protobuf <-> domain conversion."""

from __future__ import annotations

from crm.integrations.v1 import automation_pb2 as pb

from services.integrations.automation.domain import Action, Execution, Planned, Rule, RuleFields
from services.integrations.webhooks.messages import _time


def action_from_proto(given: pb.AutomationAction) -> Action:
    kind = given.WhichOneof("action") or ""
    if kind == "assign_owner":
        return Action(kind, owner_id=given.assign_owner.owner_id)
    if kind == "create_task":
        task = given.create_task
        return Action(
            kind, subject=task.subject, body=task.body, due_in_hours=task.due_in_hours, owner_id=task.owner_id
        )
    if kind == "send_email":
        email = given.send_email
        return Action(
            kind,
            to=email.to,
            subject=email.subject,
            text_body=email.text_body,
            html_body=email.html_body,
            connection_id=email.connection_id,
        )
    if kind == "update_field":
        return Action(kind, field=given.update_field.field, value=given.update_field.value)
    if kind == "call_webhook":
        return Action(kind, webhook_id=given.call_webhook.webhook_id)
    return Action("")


def action_to_proto(action: Action) -> pb.AutomationAction:
    if action.type == "assign_owner":
        return pb.AutomationAction(assign_owner=pb.AssignOwner(owner_id=action.owner_id))
    if action.type == "create_task":
        task = pb.CreateTask(
            subject=action.subject, body=action.body, due_in_hours=action.due_in_hours, owner_id=action.owner_id
        )
        return pb.AutomationAction(create_task=task)
    if action.type == "send_email":
        email = pb.SendEmail(
            to=action.to,
            subject=action.subject,
            text_body=action.text_body,
            html_body=action.html_body,
            connection_id=action.connection_id,
        )
        return pb.AutomationAction(send_email=email)
    if action.type == "update_field":
        return pb.AutomationAction(update_field=pb.UpdateField(field=action.field, value=action.value))
    return pb.AutomationAction(call_webhook=pb.CallWebhook(webhook_id=action.webhook_id))


def fields_from_proto(given: pb.AutomationRule) -> RuleFields:
    return RuleFields(
        given.display_name,
        given.description,
        given.event_type,
        given.condition,
        tuple(action_from_proto(a) for a in given.actions),
    )


def rule_to_proto(rule: Rule) -> pb.AutomationRule:
    return pb.AutomationRule(
        id=rule.id,
        display_name=rule.data.display_name,
        description=rule.data.description,
        event_type=rule.data.event_type,
        condition=rule.data.condition,
        actions=[action_to_proto(a) for a in rule.data.actions],
        state=pb.AutomationRule.State.Value(rule.state),
        create_time=_time(rule.create_time),
        update_time=_time(rule.update_time),
        etag=rule.etag,
    )


def execution_to_proto(execution: Execution) -> pb.AutomationExecution:
    return pb.AutomationExecution(
        id=execution.id,
        rule_id=execution.rule_id,
        event_id=execution.event_id,
        event_type=execution.event_type,
        subject_id=execution.subject_id,
        state=pb.AutomationExecution.State.Value(execution.state),
        reason=execution.reason,
        causation_chain=list(execution.causation_chain),
        actions=[
            pb.AutomationActionResult(
                type=r.type,
                outcome=pb.AutomationActionResult.Outcome.Value(r.outcome),
                error=r.error,
                duration_ms=r.duration_ms,
                result_ref=r.result_ref,
            )
            for r in execution.actions
        ],
        attempt_count=execution.attempt_count,
        create_time=_time(execution.create_time),
        finish_time=_time(execution.finish_time),
        duration_ms=execution.duration_ms,
    )


def planned_to_proto(planned: Planned) -> pb.PlannedAction:
    return pb.PlannedAction(
        type=planned.type, description=planned.description, error=str(planned.values.get("error", ""))
    )
