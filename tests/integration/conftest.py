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
def sales_deals(migrated):
    """The sales service (real gRPC) on a fresh PostgreSQL database, with a contacts service to check contacts."""
    from tests.integration.sales_helpers import run_sales

    running, stop = run_sales(migrated("sales"), migrated("contacts"))
    yield running
    stop()
