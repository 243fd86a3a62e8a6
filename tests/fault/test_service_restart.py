"""Restart a service while the gateway is under load: callers see 503s in the error shape, never a
500 or a hang, and the suite recovers by itself once the service is back."""

from __future__ import annotations

import time

import pytest

from tests.e2e.support import Api, free_port, start_distributed, stop_distributed, wait_until
from tests.fault.load import Load, create_contact, list_contacts
from tests.fault.servers import PrivatePostgres


@pytest.fixture
def suite(tmp_path, databases, amqp_url, redis_server):
    env = {"CRM_GRPC_DEADLINE_SECONDS": "3"}
    suite = start_distributed(tmp_path, databases.template("restart"), amqp_url, redis_server, env)
    yield suite
    stop_distributed(suite)


def test_a_killed_service_is_503_then_recovers_without_a_500_or_a_hang(suite):
    api = Api(suite.base, suite.create_tenant("Restart")["apiKey"])
    with Load(api, list_contacts) as load:
        wait_until(lambda: load.outcomes.statuses[200] >= 20, what="a steady load")
        suite.processes["contacts"].kill()  # SIGKILL: no graceful shutdown
        suite.processes.pop("contacts").wait()
        wait_until(lambda: load.outcomes.statuses[503] >= 5, what="callers to see the outage")
        time.sleep(1)
        suite.start("contacts", extra_env={"CRM_METRICS_PORT": str(free_port())})
        wait_until(load.outcomes.recovered, 30, "the service to be found again")
    outcomes = load.outcomes
    print(f"\nFAULT service restart under load: {dict(outcomes.statuses)} hangs={outcomes.hangs}")
    assert set(outcomes.statuses) <= {200, 503, 504}, outcomes.statuses
    assert outcomes.hangs == 0 and outcomes.shapeless == []


def test_no_acknowledged_write_is_lost_when_postgresql_crashes(tmp_path, databases, amqp_url, redis_server):
    pg = PrivatePostgres()
    pg.start()
    contacts_db = pg.admin_url.rsplit("/", 1)[0] + "/crm_contacts"
    suite = start_distributed(
        tmp_path, databases.template("pgcrash"), amqp_url, redis_server, {"CRM_CONTACTS_DATABASE_URL": contacts_db}
    )
    try:
        api = Api(suite.base, suite.create_tenant("Crash")["apiKey"])
        with Load(api, create_contact) as load:
            wait_until(lambda: len(load.outcomes.acknowledged) >= 50, what="a steady write load")
            pg.crash()
            wait_until(lambda: load.outcomes.statuses[503] >= 3, what="callers to see the outage")
            pg.start()
            wait_until(load.outcomes.recovered, 60, "writes to succeed again")
        outcomes = load.outcomes
        lost = [i for i in outcomes.acknowledged if api.get(f"/v1/contacts/{i}").status_code != 200]
        print(
            f"\nFAULT postgres crash under writes: acknowledged={len(outcomes.acknowledged)} lost={len(lost)} "
            f"statuses={dict(outcomes.statuses)} hangs={outcomes.hangs}"
        )
        assert lost == []
        assert set(outcomes.statuses) <= {200, 503, 504}, outcomes.statuses
        assert outcomes.hangs == 0 and outcomes.shapeless == []
    finally:
        stop_distributed(suite)
        pg.stop()
