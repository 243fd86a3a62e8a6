"""Filters and ordering over contacts behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest

from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.contacts.domain import ContactFields
from services.contacts.module import MIGRATIONS
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts

ME = Principal("T1", "test", frozenset({"admin"}))
OTHER = Principal("T2", "test", frozenset({"admin"}))
PEOPLE = [
    ContactFields(
        given_name="Ada",
        email="ada@example.com",
        lifecycle_stage="CUSTOMER",
        tags=("vip", "eu"),
        custom_fields={"region": "EMEA", "seats": 120},
    ),
    ContactFields(
        given_name="Grace",
        email="grace@navy.example",
        lifecycle_stage="LEAD",
        tags=("us",),
        custom_fields={"region": "AMER", "seats": 5},
    ),
    ContactFields(
        given_name="Hedy",
        email="hedy@example.com",
        lifecycle_stage="CUSTOMER",
        tags=("eu",),
        custom_fields={"region": "EMEA", "seats": 40},
    ),
    ContactFields(
        given_name="Katherine", email="kj@nasa.example", lifecycle_stage="SUBSCRIBER", custom_fields={"region": "AMER"}
    ),
    ContactFields(given_name="Barbara", email="barbara@example.com", lifecycle_stage="LEAD", tags=("vip",)),
]


@pytest.fixture(params=["postgresql", "sqlite"])
def contacts(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("contacts")
    else:
        url = f"sqlite:///{tmp_path / 'contacts.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    service = Contacts(database, Outbox("contacts", OUTBOX))
    for person in PEOPLE:
        service.create(ME, person)
    service.create(OTHER, ContactFields(given_name="Ada", lifecycle_stage="CUSTOMER", tags=("vip",)))
    yield service
    database.dispose()


def names(service: Contacts, filter: str = "", order_by: str = "", size: int = 100) -> list[str]:
    found, _ = service.list(ME, size, "", filter, order_by)
    return [c.data.given_name for c in found]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("lifecycleStage = CUSTOMER", {"Ada", "Hedy"}),
        ("lifecycleStage != CUSTOMER", {"Grace", "Katherine", "Barbara"}),
        ("tags:vip", {"Ada", "Barbara"}),
        ("tags:vip AND lifecycleStage = LEAD", {"Barbara"}),
        ("tags:vip OR tags:us", {"Ada", "Barbara", "Grace"}),
        ('customFields.region = "EMEA"', {"Ada", "Hedy"}),
        ("customFields.seats >= 40", {"Ada", "Hedy"}),
        ("email:EXAMPLE.COM", {"Ada", "Hedy", "Barbara"}),
        ("NOT email:example.com", {"Grace", "Katherine"}),
        ('(tags:eu OR tags:us) AND customFields.region = "AMER"', {"Grace"}),
        ('createTime > "2000-01-01T00:00:00Z"', {"Ada", "Grace", "Hedy", "Katherine", "Barbara"}),
        ("givenName = Nobody", set()),
    ],
)
def test_filters_select_exactly_the_matching_contacts_of_the_tenant(contacts, filter, expected):
    assert set(names(contacts, filter)) == expected


def test_order_by_sorts_and_pages_walk_the_same_order(contacts):
    everyone = names(contacts, order_by="givenName desc")
    assert everyone == ["Katherine", "Hedy", "Grace", "Barbara", "Ada"]
    walked, token = [], ""
    while True:
        page, token = contacts.list(ME, 2, token, "", "givenName desc")
        walked += [c.data.given_name for c in page]
        if not token:
            break
    assert walked == everyone


def test_filtered_pages_cover_every_match_once(contacts):
    walked, token = [], ""
    while True:
        page, token = contacts.list(ME, 1, token, "lifecycleStage != SUBSCRIBER", "createTime desc")
        walked += [c.data.given_name for c in page]
        if not token:
            break
    assert walked == ["Barbara", "Hedy", "Grace", "Ada"]


def test_a_page_token_only_works_with_the_filter_that_issued_it(contacts):
    _, token = contacts.list(ME, 1, "", "tags:vip", "")
    with pytest.raises(InvalidArgument) as caught:
        contacts.list(ME, 1, token, "tags:eu", "")
    assert caught.value.violations[0].field == "page_token"
