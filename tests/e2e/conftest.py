from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.oidc import IdentityProvider
from tests.e2e.support import (
    CONSUMERS,
    STARTUP_SECONDS,
    Api,
    Partner,
    Suite,
    distributed,
    free_port,
    wait_until,
)
from tests.infra import delete_amqp_prefix, delete_redis_prefix


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


CORS_ORIGIN = "https://app.partner.example"
# The settings of the distributed suite the e2e modules share (`shared_suite`): what any of them
# needs, and nothing another of them must not have.
SHARED_ENV = {
    # Connectors sync only when a test asks (webhooks, the manual :sync), never on a timer.
    "CRM_CONNECTOR_POLL_SECONDS": "0",
    "CRM_AUTOMATION_POLL_SECONDS": "0.1",
    "CRM_AUTOMATION_MAX_DEPTH": "5",
    # The contract fuzzer makes thousands of calls: no budget of the defaults' size may refuse them.
    "CRM_RATE_LIMITS": "read=100000/60,write=100000/60,search=100000/60,bulk=100000/60",
}


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[IdentityProvider]:
    """A stand-in for an external OIDC provider: a JWKS on 127.0.0.1 and tokens it signs."""
    provider = IdentityProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="package")
def partner(tmp_path_factory, databases, amqp_url, redis_server, identity_provider) -> Iterator[Partner]:
    """The suite as separate processes with one gateway under gunicorn (more on demand); shared by
    the e2e modules and stopped after the last of them, not left running beside the tests after."""
    amqp_prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    redis_prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    template = databases.template("partner")
    env = {
        "CRM_DATABASE_URL": template,
        "CRM_BUS": "rabbitmq",
        "CRM_AMQP_URL": amqp_url,
        "CRM_AMQP_PREFIX": amqp_prefix,
        "CRM_REDIS_URL": redis_server,
        "CRM_REDIS_PREFIX": redis_prefix,
        "CRM_INTERNAL_TOKEN_SECRET": secrets.token_urlsafe(40),
        "CRM_CONTACTS_ADDR": f"127.0.0.1:{free_port()}",
        "CRM_MARKETING_ADDR": f"127.0.0.1:{free_port()}",
        "CRM_SALES_ADDR": f"127.0.0.1:{free_port()}",
        "CRM_RELAY_POLL_SECONDS": "0.05",
        "CRM_MAX_BODY_BYTES": "65536",
        "CRM_CORS_ORIGINS": CORS_ORIGIN,
        "CRM_OAUTH_ISSUER": "https://crm.test",
        # Rotations show at once instead of within 30 s, so tests need not wait.
        "CRM_SIGNING_KEY_REFRESH_SECONDS": "0",
        "CRM_OIDC_ISSUER": identity_provider.issuer,
        "CRM_OIDC_AUDIENCE": identity_provider.audience,
        "CRM_OIDC_JWKS_URL": identity_provider.jwks_url,
    }
    suite = Partner(tmp_path_factory.mktemp("partner"), env)
    suite.crm("migrate")
    suite.start("contacts", extra_env={"CRM_METRICS_PORT": "0"})
    suite.start("marketing", extra_env={"CRM_METRICS_PORT": "0"})
    suite.start("sales", extra_env={"CRM_METRICS_PORT": "0"})
    suite.start("relay", extra_env={"CRM_METRICS_PORT": "0"})
    suite.base = suite.start_gateway("gateway")
    suite.gateway_db = template.replace("{service}", "gateway")
    suite.contacts_db = template.replace("{service}", "contacts")
    suite.redis_url, suite.redis_prefix = redis_server, redis_prefix
    try:
        wait_until(
            lambda: Api(suite.base, None).get("/readyz").status_code == 200, STARTUP_SECONDS, "the partner suite"
        )
        yield suite
    finally:
        suite.stop_all()
        delete_amqp_prefix(amqp_url, amqp_prefix, CONSUMERS, retry_tiers=3)
        delete_redis_prefix(redis_server, redis_prefix)


@pytest.fixture(scope="package")
def acme(partner) -> dict[str, str]:
    """A tenant and its bootstrap admin key."""
    return partner.create_tenant("Acme")


@pytest.fixture(scope="package")
def acme_api(partner, acme) -> Api:
    return Api(partner.base, acme["apiKey"])


@pytest.fixture(scope="package")
def shared_suite(tmp_path_factory, databases, amqp_url, redis_server) -> Iterator[Suite]:
    """Every service, the relay and the gateway as processes, started once for the e2e modules
    whose tests each work in tenants of their own (a stack per module cost 20 s to start and stop).
    A module that stops processes, or needs settings of its own, starts its own suite instead."""
    workdir = tmp_path_factory.mktemp("shared")
    with distributed(workdir, databases.template("shared"), amqp_url, redis_server, SHARED_ENV) as suite:
        yield suite
