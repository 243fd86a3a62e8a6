"""A contact has several emails and phones: further ones are normalised like the primary, named by
position when bad, refused when another contact has them, found by `q` and filters, filed on the
timeline by inbound mail, kept by a merge, and exported — on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest

from crmkit.db import Database
from crmkit.errors import AlreadyExists, InvalidArgument
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.contacts import merging, timeline_store
from services.contacts.domain import ContactFields
from services.contacts.exports import HEADER, csv_row
from services.contacts.module import MIGRATIONS
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts

ME = Principal("T1", "test", frozenset({"admin"}))


@pytest.fixture(params=["postgresql", "sqlite"])
def world(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("contacts")
    else:
        url = f"sqlite:///{tmp_path / 'contacts.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    outbox = Outbox("contacts", OUTBOX)
    yield Contacts(database, outbox), merging.Merges(database, outbox), database
    database.dispose()


def test_further_emails_and_phones_are_normalised_and_bad_ones_named_by_position(world):
    contacts, _, _ = world
    ada = contacts.create(
        ME,
        ContactFields(
            given_name="Ada",
            email="ada@example.com",
            additional_emails=("Ada.Work@EXAMPLE.com", "ADA@example.com", "ada.work@example.com"),
            phone="+44 20 7183 8750",
            additional_phones=("+1 415 555 0123", "+442071838750"),
        ),
    )
    # Normalised (domain lower-cased, E.164), the primary and repeats dropped.
    assert ada.data.additional_emails == ("Ada.Work@example.com",)
    assert ada.data.additional_phones == ("+14155550123",)
    with pytest.raises(InvalidArgument) as caught:
        contacts.create(
            ME, ContactFields(given_name="Bad", additional_emails=("ok@example.com", "nope"), additional_phones=("",))
        )
    assert {v.field for v in caught.value.violations} == {"additional_emails[1]", "additional_phones[0]"}
    with pytest.raises(InvalidArgument) as caught:
        contacts.create(ME, ContactFields(given_name="Many", additional_emails=tuple(f"a{n}@x.org" for n in range(11))))
    assert [v.field for v in caught.value.violations] == ["additional_emails"]
    # Only further contact details are enough to be a contact.
    assert contacts.create(ME, ContactFields(additional_phones=("+14155550199",))).id


def test_an_address_another_contact_has_in_any_position_is_refused_unless_allowed(world):
    contacts, _, _ = world
    ada = contacts.create(ME, ContactFields(given_name="Ada", email="ada@example.com", additional_emails=("a@w.org",)))
    with pytest.raises(AlreadyExists) as caught:  # a primary email that is someone's further one
        contacts.create(ME, ContactFields(given_name="X", email="A@W.org"))
    assert [(v.field, ada.id in v.description) for v in caught.value.violations] == [("email", True)]
    with pytest.raises(AlreadyExists) as caught:  # a further email that is someone's primary one
        contacts.create(
            ME, ContactFields(given_name="Y", email="y@example.com", additional_emails=("ada@example.com",))
        )
    assert [v.field for v in caught.value.violations] == ["additional_emails[0]"]
    bob = contacts.create(ME, ContactFields(given_name="Bob", email="bob@example.com"))
    with pytest.raises(AlreadyExists):  # on update as well, and nothing is written
        contacts.update(ME, bob.id, ContactFields(additional_emails=("a@w.org",)), ["additional_emails"], "")
    assert contacts.get(ME, bob.id).data.additional_emails == ()
    allowed = contacts.update(
        ME, bob.id, ContactFields(additional_emails=("a@w.org",)), ["additional_emails"], "", allow_duplicate_email=True
    )
    assert allowed.data.additional_emails == ("a@w.org",)
    # Keeping an address the contact already had is no duplicate of itself.
    kept = contacts.update(ME, ada.id, ContactFields(given_name="Ada L."), ["given_name"], "")
    assert kept.data.additional_emails == ("a@w.org",)


def test_further_details_are_searched_filtered_filed_merged_and_exported(world):
    contacts, merges, database = world
    ada = contacts.create(
        ME,
        ContactFields(
            given_name="Ada",
            email="ada@example.com",
            additional_emails=("lovelace@analytical.org",),
            additional_phones=("+14155550123",),
        ),
    )
    other = contacts.create(ME, ContactFields(given_name="Ada", email="countess@example.org", phone="+442071838750"))
    assert [c.id for c in contacts.list(ME, 10, "", q="analytical")[0]] == [ada.id]
    assert [c.id for c in contacts.list(ME, 10, "", q="4155550123")[0]] == [ada.id]
    assert [c.id for c in contacts.list(ME, 10, "", 'additionalEmails:"lovelace@analytical.org"')[0]] == [ada.id]
    with database.transaction() as session:  # inbound mail from a further address reaches the contact
        assert timeline_store.contact_ids_with_emails(session, "T1", ["Lovelace@Analytical.org"]) == [ada.id]

    merged = merges.merge(ME, ada.id, [other.id])
    # Nothing is lost: the loser's email and phone become further ones of the winner.
    assert merged.data.email == "ada@example.com" and merged.data.phone == "+442071838750"
    assert merged.data.additional_emails == ("lovelace@analytical.org", "countess@example.org")
    assert merged.data.additional_phones == ("+14155550123",)
    assert [c.id for c in contacts.list(ME, 10, "", q="countess")[0]] == [ada.id]
    with pytest.raises(AlreadyExists):  # the loser's address now belongs to the winner
        contacts.create(ME, ContactFields(given_name="Z", email="countess@example.org"))

    row = dict(zip(HEADER, csv_row(merged), strict=True))
    assert row["additionalEmails"] == "lovelace@analytical.org;countess@example.org"
    assert row["additionalPhones"] == "+14155550123"
