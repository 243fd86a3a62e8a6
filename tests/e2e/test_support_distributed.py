"""Support end to end: the support target, the relay and the gateway (gunicorn) as separate
processes on PostgreSQL and RabbitMQ, driven over HTTP like a partner would."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.support import Api, ModuleView, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module with its own tenant."""
    suite = ModuleView(shared_suite)
    suite.support_db = suite.database_template.replace("{service}", "support")
    suite.key = suite.create_tenant("Helpdesk")["apiKey"]
    return suite


@pytest.fixture(scope="module")
def api(suite):
    return Api(suite.base, suite.key)


def test_a_ticket_is_routed_answered_solved_and_closed_over_rest(suite, api):
    group = api.post("/v1/groups", json={"name": "Billing"}).json()
    agent = api.post(
        "/v1/agents",
        json={"displayName": "Ann", "capacity": 2, "skills": ["billing"], "groupIds": [group["id"]], "available": True},
    ).json()
    policy = api.post(
        "/v1/slaPolicies",
        json={
            "name": "Standard",
            "calendar": {
                "timeZone": "Europe/Berlin",
                "workingHours": [{"day": d, "startTime": "00:00", "endTime": "24:00"} for d in range(1, 8)],
            },
            "targets": [{"priority": "NORMAL", "firstResponseMinutes": 60, "resolutionMinutes": 480}],
        },
    )
    assert policy.status_code == 200, policy.text
    created = api.post(
        "/v1/tickets",
        json={
            "subject": "Double charge",
            "requesterId": "C1",
            "groupId": group["id"],
            "requiredSkills": ["billing"],
            "channel": "WEB_FORM",
        },
    )
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert (ticket["assigneeId"], ticket["status"]) == (agent["id"], "OPEN")
    assert ticket["firstResponseDueTime"] and created.headers["ETag"] == f'"{ticket["etag"]}"'
    assert [h["kind"] for h in ticket["history"]] == ["created", "status", "assigned"]

    reply = api.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Refunded."})
    assert reply.status_code == 200 and reply.json()["visibility"] == "PUBLIC"
    comments = api.get(f"/v1/tickets/{ticket['id']}/comments").json()["comments"]
    assert [c["body"] for c in comments] == ["Refunded."]

    stale = api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "SOLVED"}, headers={"If-Match": ticket["etag"]})
    assert stale.status_code == 409, "the reply changed the ticket (first response): the etag is stale"
    solved = api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "SOLVED"})
    assert solved.status_code == 200 and solved.json()["status"] == "SOLVED"
    illegal = api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "NEW"})
    assert illegal.status_code == 400 and illegal.json()["error"]["status"] == "FAILED_PRECONDITION"
    closed = api.delete(f"/v1/tickets/{ticket['id']}")
    assert closed.status_code == 200 and closed.json()["status"] == "CLOSED"

    listed = api.get("/v1/tickets", params={"filter": 'status = "CLOSED"'}).json()["tickets"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    assert api.get(f"/v1/agents/{agent['id']}").json()["load"] == 0

    with sa.create_engine(suite.support_db).connect() as connection:
        wait_until(
            lambda: connection.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar() == 0,
            what="the relay to publish support's events",
        )
        types = connection.execute(sa.text("SELECT event_type FROM outbox WHERE subject = :s"), {"s": ticket["id"]})
        assert {"crm.support.v1.TicketCreated", "crm.support.v1.TicketAssigned", "crm.support.v1.CommentAdded"} <= {
            t for (t,) in types
        }


def test_bad_input_names_fields_and_other_tenants_get_404(suite, api):
    invalid = api.post("/v1/tickets", json={"subject": "", "priority": "LOW"})
    assert invalid.status_code == 400
    assert {d["field"] for d in invalid.json()["error"]["details"]} == {"subject", "requesterId"}
    bad_filter = api.get("/v1/tickets", params={"filter": "mood = happy"})
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["details"][0]["field"] == "filter"
    ticket = api.post("/v1/tickets", json={"subject": "Mine", "requesterId": "C1"}).json()
    other = Api(suite.base, suite.create_tenant("Other")["apiKey"])
    for response in (
        other.get(f"/v1/tickets/{ticket['id']}"),
        other.patch(f"/v1/tickets/{ticket['id']}", json={"subject": "Ours"}),
        other.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "hi"}),
    ):
        assert response.status_code == 404, response.text
    assert other.get("/v1/tickets").json()["tickets"] == []


def test_knowledge_base_metrics_and_a_survey_answered_without_credentials(suite, api):
    from crm.events.v1.envelope_pb2 import Envelope
    from crm.support.v1 import events_pb2

    article = api.post("/v1/articles", json={"title": "Reset your password", "body": "Use the reset link."}).json()
    assert article["status"] == "DRAFT"
    assert api.get("/v1/articles:search", params={"q": "password"}).json()["results"] == []
    published = api.post(f"/v1/articles/{article['id']}:publish", json={})
    assert published.status_code == 200 and published.json()["status"] == "PUBLISHED"
    found = api.get("/v1/articles:search", params={"q": "reset password"}).json()["results"]
    assert [r["article"]["id"] for r in found] == [article["id"]]
    ticket = api.post("/v1/tickets", json={"subject": "Forgot my password", "requesterId": "C7"}).json()
    suggested = api.get(f"/v1/tickets/{ticket['id']}:suggestArticles").json()["results"]
    assert [r["article"]["id"] for r in suggested] == [article["id"]]

    assert api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "SOLVED"}).status_code == 200
    with sa.create_engine(suite.support_db).connect() as connection:
        payloads = connection.execute(
            sa.text("SELECT payload FROM outbox WHERE event_type = 'crm.support.v1.SurveyCreated'")
        ).scalars()
        created = [events_pb2.SurveyCreated.FromString(Envelope.FromString(p).data) for p in payloads]
    [survey] = [s for s in created if s.ticket_id == ticket["id"]]
    anonymous = Api(suite.base, None)
    assert anonymous.get("/v1/tickets").status_code == 401, "only public routes skip credentials"
    answered = anonymous.post("/v1/surveys:submit", json={"token": survey.token, "score": 5, "comment": "Great"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["score"] == 5 and "RateLimit-Limit" in answered.headers
    refused = anonymous.post("/v1/surveys:submit", json={"token": survey.token, "score": 1})
    assert refused.status_code == 409
    bad = anonymous.post("/v1/surveys:submit", json={"token": "nonsense", "score": 5})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "token"

    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    period = {
        "startTime": (now - dt.timedelta(days=1)).isoformat(),
        "endTime": (now + dt.timedelta(days=1)).isoformat(),
    }
    report = api.get("/v1/supportMetrics", params={**period, "groupBy": "AGENT"})
    assert report.status_code == 200, report.text
    overall = report.json()["overall"]
    assert overall["csatResponses"] == 1 and overall["csatAverage"] == 5
    missing = api.get("/v1/supportMetrics")
    assert missing.status_code == 400
    assert {d["field"] for d in missing.json()["error"]["details"]} == {"startTime", "endTime"}


def test_a_tickets_life_and_its_csat_answer_appear_on_the_requesters_timeline(suite, api):
    from crm.events.v1.envelope_pb2 import Envelope
    from crm.support.v1 import events_pb2

    contact = api.post("/v1/contacts", json={"givenName": "Rita", "email": "rita@example.com"}).json()
    note = api.post(
        "/v1/activities",
        json={
            "kind": "NOTE",
            "subject": "Prefers email",
            "contactIds": [contact["id"]],
            "occurTime": "2026-01-01T00:00:00Z",
        },
    )
    assert note.status_code == 200, note.text
    unknown = api.post("/v1/activities", json={"kind": "CALL", "subject": "x", "contactIds": ["nobody"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["details"][0]["field"] == "contactIds[0]"
    ticket = api.post("/v1/tickets", json={"subject": "Cannot log in", "requesterId": contact["id"]}).json()
    assert api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "SOLVED"}).status_code == 200
    with sa.create_engine(suite.support_db).connect() as connection:
        token = wait_until(
            lambda: [
                s.token
                for p in connection.execute(
                    sa.text("SELECT payload FROM outbox WHERE event_type = 'crm.support.v1.SurveyCreated'")
                ).scalars()
                if (s := events_pb2.SurveyCreated.FromString(Envelope.FromString(p).data)).ticket_id == ticket["id"]
            ],
            what="the CSAT survey",
        )[0]
    answered = Api(suite.base, None).post("/v1/surveys:submit", json={"token": token, "score": 4, "comment": "Fine"})
    assert answered.status_code == 200, answered.text

    path = f"/v1/contacts/{contact['id']}/timeline"
    entries = wait_until(
        lambda: (r := api.get(path).json().get("entries", [])) and len(r) == 4 and r,
        what="the ticket, its solve and the answer on the timeline",
    )
    assert [e["kind"] for e in entries] == ["survey.answered", "ticket.solved", "ticket.opened", "activity.note"]
    assert entries[2]["title"] == "Ticket opened: Cannot log in" and entries[2]["sourceId"] == ticket["id"]
    assert entries[0]["attributes"] == {"surveyKind": "CSAT", "score": 4, "ticketId": ticket["id"]}
    assert token not in str(entries)
    only = api.get(path, params={"filter": 'kind = "ticket.solved"', "pageSize": 1}).json()
    assert [e["kind"] for e in only["entries"]] == ["ticket.solved"] and only["nextPageToken"] == ""
    other = Api(suite.base, suite.create_tenant("Elsewhere")["apiKey"])
    assert other.get(path).status_code == 404


def test_duplicates_are_found_and_merged_over_rest_and_support_follows_the_merge(suite, api):
    def contact(**body):
        made = api.post("/v1/contacts", json=body)
        assert made.status_code == 200, made.text
        return made.json()

    winner = contact(givenName="Katherine", familyName="Johnson", email="k.johnson@nasa.example")
    loser = contact(givenName="Katharine", familyName="Johnson", phone="+12025550143")
    ticket = api.post("/v1/tickets", json={"subject": "Orbit maths", "requesterId": loser["id"]}).json()

    # A similar name alone is a hint below the default threshold (0.8, ADR 63): asked for with a lower one.
    hints = api.get(f"/v1/contacts/{winner['id']}:findDuplicates")
    assert hints.status_code == 200 and hints.json().get("candidates", []) == [], hints.text
    found = api.get(f"/v1/contacts/{winner['id']}:findDuplicates", params={"threshold": 0.6})
    assert found.status_code == 200, found.text
    [candidate] = found.json()["candidates"]
    assert candidate["contact"]["id"] == loser["id"] and 0.6 <= candidate["score"] < 0.8
    assert {m["field"]: m["how"] for m in candidate["matches"]} == {"name": "similar"}

    stale = api.post(f"/v1/contacts/{winner['id']}:merge", json={"loserIds": [loser["id"]], "etag": "stale"})
    assert stale.status_code == 409, stale.text
    itself = api.post(f"/v1/contacts/{winner['id']}:merge", json={"loserIds": [winner["id"]]})
    assert itself.status_code == 400 and itself.json()["error"]["details"][0]["field"] == "loserIds", itself.text

    merged = api.post(f"/v1/contacts/{winner['id']}:merge", json={"loserIds": [loser["id"]], "etag": winner["etag"]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["phone"] == "+12025550143" and merged.json()["givenName"] == "Katherine"
    via_loser = api.get(f"/v1/contacts/{loser['id']}")
    assert via_loser.status_code == 200 and via_loser.json()["id"] == winner["id"]
    again = api.post(f"/v1/contacts/{winner['id']}:merge", json={"loserIds": [loser["id"]]})
    assert again.status_code == 400, again.text
    wait_until(
        lambda: api.get(f"/v1/tickets/{ticket['id']}").json()["requesterId"] == winner["id"],
        30,
        "the re-pointed ticket",
    )

    twins = [contact(givenName="Dorothy", familyName="Vaughan"), contact(givenName="Vaughan", familyName="Dorothy")]
    scan = api.post("/v1/duplicateScans", json={"threshold": 0.6})  # swapped names alone: a hint
    assert scan.status_code == 200 and scan.json()["state"] == "RUNNING", scan.text
    wait_until(
        lambda: api.get(f"/v1/duplicateScans/{scan.json()['id']}").json()["state"] == "SUCCEEDED", 30, "the scan"
    )
    pairs = api.get(f"/v1/duplicateScans/{scan.json()['id']}/pairs")
    assert pairs.status_code == 200, pairs.text
    [pair] = pairs.json()["pairs"]
    assert {pair["contactId"], pair["otherContactId"]} == {t["id"] for t in twins}
    assert pair["matches"] == [{"field": "name", "how": "swapped", "similarity": 0.97}]
