"""Every service target runs as its own process, answers gRPC health and reflection, and stops cleanly."""

from __future__ import annotations

import secrets
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.e2e.support import CONSUMER, PRIVACY_CONSUMERS, Suite, free_port, wait_until
from tests.infra import delete_amqp_prefix

pytestmark = pytest.mark.e2e


def health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return -1
        return int(reply.status)


def reflected_services(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        return {s.name for reply in replies for s in reply.list_services_response.service}


@pytest.mark.parametrize(
    ("service", "api"),
    [
        ("contacts", "crm.contacts.v1.ContactsService"),
        ("marketing", "crm.marketing.v1.AudienceService"),
        ("sales", "crm.sales.v1.LeadsService"),
        ("support", "crm.support.v1.TicketsService"),
        ("integrations", None),
    ],
)
def test_a_service_target_serves_health_and_reflection(service, api, tmp_path, databases, amqp_url):
    address = f"127.0.0.1:{free_port()}"
    prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    suite = Suite(
        tmp_path,
        {
            "CRM_DATABASE_URL": databases.template(f"t_{service}"),
            "CRM_BUS": "rabbitmq",
            "CRM_AMQP_URL": amqp_url,
            "CRM_AMQP_PREFIX": prefix,
            "CRM_INTERNAL_TOKEN_SECRET": secrets.token_urlsafe(40),
            f"CRM_{service.upper()}_ADDR": address,
            "CRM_METRICS_PORT": "0",
        },
    )
    suite.crm("migrate", "--only", service)
    suite.start(service)
    try:
        wait_until(lambda: health(address) == health_pb2.HealthCheckResponse.SERVING, 30, f"{service} health")
        names = reflected_services(address)
        assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
        if api:
            assert api in names
        suite.assert_running()
    finally:
        exit_code = suite.stop(service)
        consumers = {"marketing": [CONSUMER], "sales": ["sales.lead-scoring"]}.get(service, [])
        consumers += [name for name in PRIVACY_CONSUMERS if name.startswith(f"{service}.")]
        delete_amqp_prefix(amqp_url, prefix, consumers, retry_tiers=3)
    assert exit_code == 0, suite.log(service)


def test_a_service_target_refuses_to_start_without_the_shared_secret(tmp_path):
    suite = Suite(tmp_path, {"CRM_BUS": "rabbitmq", "CRM_INTERNAL_TOKEN_SECRET": "", "CRM_METRICS_PORT": "0"})
    result = suite.crm("run", "--target", "contacts", check=False)
    assert result.returncode == 2
    assert "CRM_INTERNAL_TOKEN_SECRET" in result.stderr


def test_the_in_process_bus_is_refused_for_a_single_service_process(tmp_path):
    suite = Suite(tmp_path, {"CRM_BUS": "inprocess", "CRM_INTERNAL_TOKEN_SECRET": "x" * 40, "CRM_METRICS_PORT": "0"})
    result = suite.crm("run", "--target", "marketing", check=False)
    assert result.returncode == 2 and "CRM_BUS" in result.stderr


def test_a_busy_port_is_a_one_line_error_not_a_traceback(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        suite = Suite(tmp_path, {"CRM_METRICS_PORT": str(port), "CRM_GATEWAY_ADDR": f"127.0.0.1:{free_port()}"})
        result = suite.crm("run", "--target", "all", check=False)
    assert result.returncode == 2
    assert "CRM_METRICS_PORT" in result.stderr and "Traceback" not in result.stderr
