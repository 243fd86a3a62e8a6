"""The audit log end to end: writes through gunicorn gateways become entries of the tenant's hash
chain, reads do not, only the tenant's admins see them, and `crm audit verify` checks the chain."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading

import pytest
import sqlalchemy as sa

from tests.e2e.support import Api


@pytest.fixture(scope="module")
def tenant(partner):
    created = partner.create_tenant("Audited")
    return {**created, "api": Api(partner.base, created["apiKey"])}


def entries(api: Api, **params: str) -> list[dict]:
    found, token = [], ""
    while True:
        response = api.get("/v1/auditEntries", params={**params, "pageSize": "50", "pageToken": token})
        assert response.status_code == 200, response.text
        found += response.json()["auditEntries"]
        token = response.json()["nextPageToken"]
        if not token:
            return found


def verify(partner, tenant_id: str):
    return partner.crm("audit", "verify", "--tenant", tenant_id, check=False)


def test_writes_are_recorded_with_who_what_and_outcome_and_reads_are_not(partner, tenant):
    api = tenant["api"]
    before = len(entries(api))
    created = api.post("/v1/contacts", json={"givenName": "Ada"}, headers={"X-Request-Id": "audit-create-1"})
    assert created.status_code == 200
    contact_id = created.json()["id"]
    assert api.get(f"/v1/contacts/{contact_id}").status_code == 200
    assert api.get("/v1/contacts").status_code == 200
    assert api.patch(f"/v1/contacts/{contact_id}", json={"title": "CTO"}).status_code == 200
    assert api.delete("/v1/contacts/nope").status_code == 404
    key = api.post("/v1/apiKeys", json={"displayName": "rep", "roles": ["sales_rep"]}).json()

    found = entries(api)[before:]
    assert [(e["httpMethod"], e["resourceTemplate"], e["status"]) for e in found] == [
        ("POST", "/v1/contacts", 200),
        ("PATCH", "/v1/contacts/{id}", 200),
        ("DELETE", "/v1/contacts/{id}", 404),
        ("POST", "/v1/apiKeys", 200),
    ]
    first = found[0]
    assert first["requestId"] == "audit-create-1"
    assert first["principal"] == f"apikey:{tenant['keyId']}"
    assert first["operation"].endswith("/CreateContact")
    assert (first["resourcePath"], first["resourceId"]) == ("/v1/contacts", contact_id)
    assert (found[1]["resourcePath"], found[1]["resourceId"]) == (f"/v1/contacts/{contact_id}", contact_id)
    assert found[2]["resourceId"] == "nope"
    assert found[3]["resourceId"] == key["apiKey"]["id"]
    assert dt.datetime.fromisoformat(first["time"]) <= dt.datetime.now(dt.UTC)
    sequences = [int(e["sequence"]) for e in found]
    assert sequences == list(range(sequences[0], sequences[0] + 4))
    assert all(b["previousHash"] == a["hash"] for a, b in itertools.pairwise(found))

    result = verify(partner, tenant["tenantId"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_a_time_range_selects_entries(tenant):
    api = tenant["api"]
    api.post("/v1/contacts", json={"givenName": "Range"})
    everything = entries(api)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert entries(api, startTime=later) == []
    assert entries(api, endTime=later) == everything
    assert entries(api, startTime=everything[-1]["time"]) == everything[-1:]


def test_only_the_tenants_admins_see_its_log(partner, tenant):
    api = tenant["api"]
    rep_key = api.post("/v1/apiKeys", json={"displayName": "rep", "roles": ["sales_rep"]}).json()["secret"]
    rep = Api(partner.base, rep_key)
    refused = rep.get("/v1/auditEntries")
    assert refused.status_code == 403, refused.text
    # The refused write is on the record too: who tried what they may not do.
    assert rep.post("/v1/apiKeys", json={"displayName": "x", "roles": ["admin"]}).status_code == 403
    assert entries(api)[-1]["status"] == 403
    assert entries(api)[-1]["principal"].startswith("apikey:")

    other = Api(partner.base, partner.create_tenant("Other")["apiKey"])
    assert entries(other) == []
    other.post("/v1/contacts", json={"givenName": "Theirs"})
    theirs = entries(other)
    assert [int(e["sequence"]) for e in theirs] == [1]
    mine = {e["hash"] for e in entries(api)}
    assert not mine & {e["hash"] for e in theirs}


def test_two_gateway_processes_append_to_one_unbroken_chain(partner):
    second = partner.start_gateway("audit-b")
    try:
        created = partner.create_tenant("Busy")
        apis = [Api(base, created["apiKey"]) for base in (partner.base, second)]
        statuses: list[int] = []

        def write(api: Api, n: int) -> None:
            for i in range(10):
                statuses.append(api.post("/v1/contacts", json={"givenName": f"w{n}-{i}"}).status_code)

        threads = [threading.Thread(target=write, args=(apis[n % 2], n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 40
        found = entries(apis[0])
        assert [int(e["sequence"]) for e in found] == list(range(1, 41))
        result = verify(partner, created["tenantId"])
        assert result.returncode == 0 and json.loads(result.stdout) == {
            "tenantId": created["tenantId"],
            "ok": True,
            "entries": 40,
        }
    finally:
        partner.stop("audit-b")


def test_the_verifier_points_at_the_entry_changed_behind_the_database_triggers(partner):
    created = partner.create_tenant("Tampered")
    api = Api(partner.base, created["apiKey"])
    for n in range(4):
        assert api.post("/v1/contacts", json={"givenName": f"t{n}"}).status_code == 200
    engine = sa.create_engine(partner.gateway_db, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            refused = None
            try:
                with connection.begin_nested():
                    connection.execute(
                        sa.text("UPDATE audit_entries SET status = 500 WHERE tenant_id = :t"),
                        {"t": created["tenantId"]},
                    )
            except sa.exc.DatabaseError as exc:
                refused = exc
            assert refused is not None and "append-only" in str(refused)
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            connection.execute(
                sa.text("UPDATE audit_entries SET resource_id = 'someone-else' WHERE tenant_id = :t AND sequence = 3"),
                {"t": created["tenantId"]},
            )
    finally:
        engine.dispose()
    result = verify(partner, created["tenantId"])
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "tenantId": created["tenantId"],
        "ok": False,
        "entries": 2,
        "sequence": 3,
        "reason": "hash does not match the entry's fields",
    }
    assert "entry 3" in result.stderr
