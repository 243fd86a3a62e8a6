"""A second contact with the same email (in any case) is refused, naming the first, unless allowed."""

from __future__ import annotations

import threading

import pytest

from crmkit.db import Database
from crmkit.errors import AlreadyExists
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.contacts.domain import ContactFields
from services.contacts.module import MIGRATIONS
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts

ME = Principal("T1", "test", frozenset({"admin"}))
OTHER = Principal("T2", "test", frozenset({"admin"}))


@pytest.fixture(params=["postgresql", "sqlite"])
def contacts(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("contacts")
    else:
        url = f"sqlite:///{tmp_path / 'contacts.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    yield Contacts(database, Outbox("contacts", OUTBOX))
    database.dispose()


def test_the_same_email_in_another_case_is_refused_naming_the_first_contact(contacts):
    first = contacts.create(ME, ContactFields(given_name="Ada", email="ada@example.com"))
    with pytest.raises(AlreadyExists) as caught:
        contacts.create(ME, ContactFields(given_name="Ada L.", email="ADA@Example.com"))
    [violation] = caught.value.violations
    assert violation.field == "email" and first.id in violation.description


def test_the_caller_may_allow_a_duplicate_and_other_tenants_are_independent(contacts):
    contacts.create(ME, ContactFields(given_name="Ada", email="ada@example.com"))
    contacts.create(ME, ContactFields(given_name="Ada (billing)", email="ada@example.com"), allow_duplicate_email=True)
    contacts.create(OTHER, ContactFields(given_name="Ada", email="ada@example.com"))
    found, _ = contacts.list(ME, 10, "", 'email = "ada@example.com"')
    assert len(found) == 2


def test_concurrent_creates_with_one_email_make_one_contact(contacts):
    outcomes: list[str] = []

    def create(n: int) -> None:
        try:
            contacts.create(ME, ContactFields(given_name=f"Racer {n}", email="race@example.com"))
            outcomes.append("created")
        except AlreadyExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
