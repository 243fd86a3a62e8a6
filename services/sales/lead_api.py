"""The lead services over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.sales.v1 import leads_pb2, leads_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.sales.lead_messages import (
    lead_fields_from_proto,
    lead_to_proto,
    rule_from_proto,
    rule_to_proto,
    scoring_rule_to_proto,
    settings_from_proto,
    settings_to_proto,
)
from services.sales.leads import AssignmentRules, Leads, LeadView, Scoring, WebForm, WebForms


def _lead(view: LeadView) -> leads_pb2.Lead:
    return lead_to_proto(view.lead, view.score, view.history)


class LeadsServicer(leads_pb2_grpc.LeadsServiceServicer):
    def __init__(self, leads: Leads) -> None:
        self.leads = leads

    def CreateLead(self, request: leads_pb2.CreateLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        return _lead(self.leads.create(current_principal(), lead_fields_from_proto(request.lead)))

    def GetLead(self, request: leads_pb2.GetLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        return _lead(self.leads.get(current_principal(), request.id))

    def ListLeads(
        self, request: leads_pb2.ListLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListLeadsResponse:
        found, token = self.leads.list(
            current_principal(), request.page_size, request.page_token, request.filter, request.order_by
        )
        return leads_pb2.ListLeadsResponse(leads=[_lead(v) for v in found], next_page_token=token)

    def UpdateLead(self, request: leads_pb2.UpdateLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        view = self.leads.update(
            current_principal(),
            request.id,
            lead_fields_from_proto(request.lead),
            list(request.update_mask.paths),
            request.lead.etag,
        )
        return _lead(view)

    def DeleteLead(self, request: leads_pb2.DeleteLeadRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.leads.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    def ConvertLead(
        self, request: leads_pb2.ConvertLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ConvertLeadResponse:
        result = self.leads.convert(
            current_principal(),
            request.id,
            create_account=request.create_account,
            create_opportunity=request.create_opportunity,
            opportunity_name=request.opportunity_name,
        )
        return leads_pb2.ConvertLeadResponse(
            lead=_lead(result.view),
            contact_id=result.contact_id,
            account_id=result.account_id,
            opportunity_id=result.opportunity_id,
            contact_reused=result.contact_reused,
            account_reused=result.account_reused,
        )


def _form(form: WebForm) -> leads_pb2.WebForm:
    message = leads_pb2.WebForm(
        id=form.id,
        name=form.name,
        public_key=form.public_key,
        lead_source=form.lead_source,
        honeypot_field=form.honeypot_field,
    )
    message.create_time.FromDatetime(form.create_time)
    return message


class WebFormsServicer(leads_pb2_grpc.WebFormsServiceServicer):
    def __init__(self, forms: WebForms) -> None:
        self.forms = forms

    def CreateWebForm(
        self, request: leads_pb2.CreateWebFormRequest, context: grpc.ServicerContext
    ) -> leads_pb2.WebForm:
        form = request.web_form
        return _form(self.forms.create(current_principal(), form.name, form.lead_source, form.honeypot_field))

    def GetWebForm(self, request: leads_pb2.GetWebFormRequest, context: grpc.ServicerContext) -> leads_pb2.WebForm:
        return _form(self.forms.get(current_principal(), request.id))

    def ListWebForms(
        self, request: leads_pb2.ListWebFormsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListWebFormsResponse:
        found, token = self.forms.list(current_principal(), request.page_size, request.page_token)
        return leads_pb2.ListWebFormsResponse(web_forms=[_form(f) for f in found], next_page_token=token)

    def DeleteWebForm(self, request: leads_pb2.DeleteWebFormRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.forms.delete(current_principal(), request.id)
        return empty_pb2.Empty()

    def SubmitWebForm(
        self, request: leads_pb2.SubmitWebFormRequest, context: grpc.ServicerContext
    ) -> leads_pb2.SubmitWebFormResponse:
        # Public (ADR 0021): the anonymous caller is authorised by the form's key alone.
        self.forms.submit(request.key, dict(request.fields))
        return leads_pb2.SubmitWebFormResponse(received=True)


class AssignmentRulesServicer(leads_pb2_grpc.AssignmentRulesServiceServicer):
    def __init__(self, rules: AssignmentRules) -> None:
        self.rules = rules

    def CreateAssignmentRule(
        self, request: leads_pb2.CreateAssignmentRuleRequest, context: grpc.ServicerContext
    ) -> leads_pb2.AssignmentRule:
        principal = current_principal()
        rule = rule_from_proto(request.assignment_rule, principal.tenant_id, "", self.rules.clock())
        return rule_to_proto(self.rules.create(principal, rule))

    def GetAssignmentRule(
        self, request: leads_pb2.GetAssignmentRuleRequest, context: grpc.ServicerContext
    ) -> leads_pb2.AssignmentRule:
        return rule_to_proto(self.rules.get(current_principal(), request.id))

    def ListAssignmentRules(
        self, request: leads_pb2.ListAssignmentRulesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListAssignmentRulesResponse:
        found, token = self.rules.list(current_principal(), request.page_size, request.page_token)
        return leads_pb2.ListAssignmentRulesResponse(
            assignment_rules=[rule_to_proto(r) for r in found], next_page_token=token
        )

    def DeleteAssignmentRule(
        self, request: leads_pb2.DeleteAssignmentRuleRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.rules.delete(current_principal(), request.id)
        return empty_pb2.Empty()


class ScoringRulesServicer(leads_pb2_grpc.ScoringRulesServiceServicer):
    def __init__(self, scoring: Scoring) -> None:
        self.scoring = scoring

    def CreateScoringRule(
        self, request: leads_pb2.CreateScoringRuleRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringRule:
        rule = request.scoring_rule
        return scoring_rule_to_proto(
            self.scoring.create_rule(current_principal(), rule.attribute, rule.value, rule.points)
        )

    def GetScoringRule(
        self, request: leads_pb2.GetScoringRuleRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringRule:
        return scoring_rule_to_proto(self.scoring.get_rule(current_principal(), request.id))

    def ListScoringRules(
        self, request: leads_pb2.ListScoringRulesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListScoringRulesResponse:
        found, token = self.scoring.list_rules(current_principal(), request.page_size, request.page_token)
        return leads_pb2.ListScoringRulesResponse(
            scoring_rules=[scoring_rule_to_proto(r) for r in found], next_page_token=token
        )

    def DeleteScoringRule(
        self, request: leads_pb2.DeleteScoringRuleRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.scoring.delete_rule(current_principal(), request.id)
        return empty_pb2.Empty()

    def GetScoringSettings(
        self, request: leads_pb2.GetScoringSettingsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringSettings:
        return settings_to_proto(self.scoring.settings(current_principal()))

    def UpdateScoringSettings(
        self, request: leads_pb2.UpdateScoringSettingsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringSettings:
        patch = settings_from_proto(request.scoring_settings)
        return settings_to_proto(
            self.scoring.update_settings(current_principal(), patch, list(request.update_mask.paths))
        )
