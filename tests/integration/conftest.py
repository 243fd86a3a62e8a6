from __future__ import annotations

import pytest

from tests.integration.support_helpers import run_support


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def support(migrated):
    """A support service (real gRPC server) on a fresh PostgreSQL database."""
    running, stop = run_support(migrated("support"))
    yield running
    stop()


@pytest.fixture
def contacts_service(migrated):
    """A contacts service (real gRPC server) on a fresh PostgreSQL database."""
    from tests.integration.sales_helpers import run_service

    running, stop = run_service("contacts", migrated("contacts"))
    yield running
    stop()


@pytest.fixture
def sales(migrated, contacts_service):
    """A sales service (real gRPC server) on a fresh PostgreSQL database, converting leads into
    the real contacts service beside it."""
    from tests.integration.sales_helpers import run_service

    running, stop = run_service("sales", migrated("sales"), CRM_CONTACTS_ADDR=f"127.0.0.1:{contacts_service.port}")
    yield running
    stop()


@pytest.fixture
def sales_deals(migrated):
    """The sales service (real gRPC) on a fresh PostgreSQL database, with a contacts service to check contacts."""
    from tests.integration.sales_helpers import run_sales

    running, stop = run_sales(migrated("sales"), migrated("contacts"))
    yield running
    stop()


@pytest.fixture(scope="module")
def mail_certificate():
    from tests.mailservers import self_signed

    return self_signed()


@pytest.fixture
def smtp_server(mail_certificate, tmp_path):
    """A real SMTP server (aiosmtpd: STARTTLS, AUTH) on loopback, keeping what it received."""
    from tests.integration.marketing_helpers import start_smtp

    server = start_smtp(mail_certificate, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def integrations_smtp(migrated, smtp_server, mail_certificate):
    """The integrations service (real gRPC) with tenant A's SMTP connection to `smtp_server`."""
    from tests.integration.marketing_helpers import start_integrations_with_smtp

    running = start_integrations_with_smtp(migrated("integrations"), smtp_server, mail_certificate)
    yield running
    running.stop()
