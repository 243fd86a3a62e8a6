from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.oidc import IdentityProvider
from tests.e2e.support import CONSUMERS, STARTUP_SECONDS, Api, Partner, free_port, wait_until
from tests.infra import delete_amqp_prefix, delete_redis_prefix


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


CORS_ORIGIN = "https://app.partner.example"


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[IdentityProvider]:
    """A stand-in for an external OIDC provider: a JWKS on 127.0.0.1 and tokens it signs."""
    provider = IdentityProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def partner(tmp_path_factory, databases, amqp_url, redis_server, identity_provider) -> Iterator[Partner]:
    """The suite as separate processes with one gateway under gunicorn (more on demand)."""
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


@pytest.fixture(scope="session")
def acme(partner) -> dict[str, str]:
    """A tenant and its bootstrap admin key."""
    return partner.create_tenant("Acme")


@pytest.fixture(scope="session")
def acme_api(partner, acme) -> Api:
    return Api(partner.base, acme["apiKey"])
