"""Each service's Alembic history builds exactly the tables its models describe, on both backends."""

import importlib
from pathlib import Path

import pytest

from crmkit.migrations import pending_model_changes
from tests.infra import Databases, migrations_of

TARGETS = ["gateway", "contacts", "sales", "support", "marketing", "integrations"]


def metadata_of(service: str):
    store = importlib.import_module("gateway.store" if service == "gateway" else f"services.{service}.store")
    return store.Base.metadata


@pytest.mark.parametrize("service", TARGETS)
def test_migrations_match_the_models_on_postgresql(service: str, databases: Databases):
    url = databases.create(f"mig_{service}")
    assert pending_model_changes(migrations_of(service), url, metadata_of(service)) == []


@pytest.mark.parametrize("service", TARGETS)
def test_migrations_match_the_models_on_sqlite(service: str, tmp_path: Path):
    url = f"sqlite:///{tmp_path / f'{service}.db'}"
    assert pending_model_changes(migrations_of(service), url, metadata_of(service)) == []


def test_the_comparison_notices_a_model_the_migrations_do_not_build(tmp_path: Path):
    import sqlalchemy as sa

    drifted = sa.MetaData()
    for table in metadata_of("contacts").tables.values():
        table.to_metadata(drifted)
    sa.Table("contacts_extra", drifted, sa.Column("id", sa.String(26), primary_key=True))
    drifted.tables["contacts"].append_column(sa.Column("nickname", sa.String(50)))
    changes = pending_model_changes(migrations_of("contacts"), f"sqlite:///{tmp_path / 'c.db'}", drifted)
    assert {change[0] for change in changes} == {"add_table", "add_column"}


def test_unmanaged_search_objects_are_skipped_but_the_rest_of_their_table_is_still_compared(tmp_path: Path):
    import sqlalchemy as sa

    drifted = sa.MetaData(info=dict(metadata_of("support").info))
    for table in metadata_of("support").tables.values():
        table.to_metadata(drifted)
    drifted.tables["articles"].append_column(sa.Column("summary", sa.Text()))
    changes = pending_model_changes(migrations_of("support"), f"sqlite:///{tmp_path / 's.db'}", drifted)
    assert [(c[0], c[3].name) for c in changes] == [("add_column", "summary")]
