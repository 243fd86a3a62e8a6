"""Leads over real gRPC on PostgreSQL: CRUD with filters, etags and the lifecycle; own records;
assignment rules (round robin under concurrency, capacity, history, events); public web forms."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from crm.sales.v1 import events_pb2, leads_pb2, leads_pb2_grpc

from crmkit.tokens import Principal
from tests.integration.sales_helpers import MANAGER_A, MANAGER_B, REP_A, as_, code_of, violations

L = leads_pb2.Lead
ANONYMOUS = Principal.anonymous("203.0.113.7")


@pytest.fixture
def stubs(sales):
    return (
        sales.stub(leads_pb2_grpc.LeadsServiceStub),
        sales.stub(leads_pb2_grpc.AssignmentRulesServiceStub),
        sales.stub(leads_pb2_grpc.WebFormsServiceStub),
    )


def create(leads, principal=MANAGER_A, **fields) -> leads_pb2.Lead:
    return leads.CreateLead(leads_pb2.CreateLeadRequest(lead=L(**fields)), metadata=as_(principal))


def test_a_lead_is_created_normalised_filtered_updated_with_etags_and_its_history_kept(stubs, sales):
    leads, _, _ = stubs
    ada = create(
        leads, given_name="Ada", email="Ada@EXAMPLE.com", phone="+44 20 7946 0958", country="gb", industry="SaaS"
    )
    create(leads, given_name="Bob", company="Beta", country="DE")
    assert ada.email == "Ada@example.com" and ada.phone == "+442079460958" and ada.country == "GB"
    assert ada.status == "new" and ada.etag

    found = leads.ListLeads(leads_pb2.ListLeadsRequest(filter='country = "GB"'), metadata=as_(MANAGER_A))
    assert [lead.id for lead in found.leads] == [ada.id]
    ordered = leads.ListLeads(
        leads_pb2.ListLeadsRequest(order_by="givenName desc", page_size=1), metadata=as_(MANAGER_A)
    )
    assert ordered.leads[0].given_name == "Bob" and ordered.next_page_token

    def move(status: str, etag: str = "") -> leads_pb2.Lead:
        return leads.UpdateLead(
            leads_pb2.UpdateLeadRequest(id=ada.id, lead=L(status=status, etag=etag)), metadata=as_(MANAGER_A)
        )

    assert violations(lambda: move("converted")) == {"status"}
    working = move("working", ada.etag)
    assert working.status == "working" and working.etag != ada.etag
    assert code_of(lambda: move("qualified", ada.etag)) == grpc.StatusCode.ABORTED  # a stale etag
    assert move("qualified").status == "qualified"
    assert violations(lambda: move("new")) == {"status"}

    got = leads.GetLead(leads_pb2.GetLeadRequest(id=ada.id), metadata=as_(MANAGER_A))
    kinds = [(h.kind, h.message) for h in got.history]
    assert ("status", "status new -> working") in kinds and ("status", "status working -> qualified") in kinds
    assert kinds[0][0] == "created"
    assert code_of(lambda: leads.GetLead(leads_pb2.GetLeadRequest(id=ada.id), metadata=as_(MANAGER_B))) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert sales.event_types(ada.id)[0] == "LeadCreated"


def test_bad_input_names_the_field_and_writes_nothing(stubs, sales):
    leads, _, _ = stubs
    assert violations(lambda: create(leads, given_name="Ada", email="not-an-email")) == {"email"}
    assert violations(lambda: create(leads, given_name="Ada", phone="12345")) == {"phone"}
    assert violations(lambda: create(leads)) == {"given_name"}
    assert leads.ListLeads(leads_pb2.ListLeadsRequest(), metadata=as_(MANAGER_A)).leads == []
    assert sales.events() == []


def test_a_rep_sees_and_changes_only_its_own_leads(stubs):
    leads, _, _ = stubs
    mine = create(leads, REP_A, given_name="Mine")
    theirs = create(leads, MANAGER_A, given_name="Theirs", owner_id="user:someone")
    assert mine.owner_id == "user:rep"
    listed = leads.ListLeads(leads_pb2.ListLeadsRequest(), metadata=as_(REP_A))
    assert [lead.id for lead in listed.leads] == [mine.id]
    assert code_of(lambda: leads.GetLead(leads_pb2.GetLeadRequest(id=theirs.id), metadata=as_(REP_A))) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_rules_assign_by_territory_then_fall_back_and_explain_it(stubs, sales):
    leads, rules, _ = stubs
    rules.CreateAssignmentRule(
        leads_pb2.CreateAssignmentRuleRequest(
            assignment_rule=leads_pb2.AssignmentRule(
                name="DACH",
                position=1,
                territory="DACH",
                conditions=[leads_pb2.RuleCondition(attribute="country", values=["DE", "AT", "CH"])],
                owner_ids=["anna"],
                capacity_per_owner=1,
            )
        ),
        metadata=as_(MANAGER_A),
    )
    rules.CreateAssignmentRule(
        leads_pb2.CreateAssignmentRuleRequest(
            assignment_rule=leads_pb2.AssignmentRule(name="Everyone else", position=9, owner_ids=["fallback"])
        ),
        metadata=as_(MANAGER_A),
    )
    first = create(leads, company="Alpha", country="AT")
    second = create(leads, company="Beta", country="DE")  # anna is at capacity 1 now
    other = create(leads, company="Gamma", country="US")
    assert (first.owner_id, second.owner_id, other.owner_id) == ("anna", "fallback", "fallback")

    history = leads.GetLead(leads_pb2.GetLeadRequest(id=second.id), metadata=as_(MANAGER_A)).history
    [assigned] = [h for h in history if h.kind == "assigned"]
    assert "Everyone else" in assigned.message and "'DACH' matched but every rep is at capacity 1" in assigned.message
    [event] = [e for e in sales.events(first.id) if e.type.endswith("LeadAssigned")]
    payload = events_pb2.LeadAssigned.FromString(event.data)
    assert payload.lead.owner_id == "anna" and "territory DACH" in payload.reason


def test_round_robin_is_fair_when_leads_arrive_at_once(stubs):
    leads, rules, _ = stubs
    rules.CreateAssignmentRule(
        leads_pb2.CreateAssignmentRuleRequest(
            assignment_rule=leads_pb2.AssignmentRule(name="Team", owner_ids=["a", "b", "c"])
        ),
        metadata=as_(MANAGER_A),
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        owners = list(pool.map(lambda n: create(leads, company=f"C{n}").owner_id, range(18)))
    assert {owner: owners.count(owner) for owner in set(owners)} == {"a": 6, "b": 6, "c": 6}


def test_a_public_web_form_creates_a_lead_in_its_tenant_and_a_filled_honeypot_creates_nothing(stubs):
    leads, _, forms = stubs
    form = forms.CreateWebForm(
        leads_pb2.CreateWebFormRequest(web_form=leads_pb2.WebForm(name="Contact us")), metadata=as_(MANAGER_A)
    )
    assert form.public_key.startswith("wf_") and form.honeypot_field == "website"

    def submit(key: str, **fields: str) -> leads_pb2.SubmitWebFormResponse:
        return forms.SubmitWebForm(leads_pb2.SubmitWebFormRequest(key=key, fields=fields), metadata=as_(ANONYMOUS))

    assert submit(form.public_key, givenName="Vera", email="vera@example.org", budget="50k").received
    assert submit(form.public_key, givenName="Bot", email="bot@example.org", website="http://spam").received
    assert code_of(lambda: submit("wf_not-a-key", givenName="X")) == grpc.StatusCode.NOT_FOUND
    assert violations(lambda: submit(form.public_key, email="nope")) == {"fields.email"}
    # An anonymous caller reaches nothing but the public method.
    assert code_of(lambda: leads.ListLeads(leads_pb2.ListLeadsRequest(), metadata=as_(ANONYMOUS))) == (
        grpc.StatusCode.UNAUTHENTICATED
    )

    found = leads.ListLeads(leads_pb2.ListLeadsRequest(), metadata=as_(MANAGER_A)).leads
    assert [(lead.given_name, lead.source) for lead in found] == [("Vera", "web_form")]
    assert dict(found[0].custom_attributes) == {"budget": "50k"}
    assert leads.ListLeads(leads_pb2.ListLeadsRequest(), metadata=as_(MANAGER_B)).leads == []

    # Another tenant cannot revoke it; its owner can, and the key stops working.
    delete = leads_pb2.DeleteWebFormRequest(id=form.id)
    assert code_of(lambda: forms.DeleteWebForm(delete, metadata=as_(MANAGER_B))) == grpc.StatusCode.NOT_FOUND
    forms.DeleteWebForm(delete, metadata=as_(MANAGER_A))
    assert code_of(lambda: submit(form.public_key, givenName="Late")) == grpc.StatusCode.NOT_FOUND
