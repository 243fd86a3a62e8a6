import datetime as dt

import pytest

from crmkit.errors import Aborted, InvalidArgument
from services.contacts.domain import ContactFields, apply_update, check_etag, new_contact, normalise

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


def test_emails_are_normalised_and_phones_stored_in_e164():
    data = normalise(ContactFields(given_name=" Ada ", email="Ada@EXAMPLE.com", phone="+44 20 7946 0958"))
    assert data.given_name == "Ada"
    assert data.email == "Ada@example.com"
    assert data.phone == "+442079460958"


def test_every_bad_field_is_reported_at_once_by_name():
    with pytest.raises(InvalidArgument) as caught:
        normalise(
            ContactFields(
                given_name="x" * 201,
                email="not-an-address",
                phone="12",
                lifecycle_stage="ROYALTY",
                tags=("",),
                custom_fields={"1bad": 1},
            )
        )
    assert fields_of(caught.value) == {"given_name", "email", "phone", "lifecycle_stage", "tags", "custom_fields.1bad"}


def test_a_contact_needs_a_name_an_email_or_a_phone():
    with pytest.raises(InvalidArgument) as caught:
        normalise(ContactFields(title="CTO"))
    assert fields_of(caught.value) == {"given_name"}


def test_national_phone_numbers_without_country_code_are_refused():
    with pytest.raises(InvalidArgument) as caught:
        normalise(ContactFields(phone="020 7946 0958"))
    assert "international format" in caught.value.violations[0].description


def test_duplicate_tags_collapse_keeping_order():
    assert normalise(ContactFields(given_name="A", tags=("b", "a", "b"))).tags == ("b", "a")


def test_update_changes_only_masked_fields_and_reports_them():
    contact = new_contact("C1", "T1", ContactFields(given_name="Ada", email="ada@example.com"), NOW)
    patch = ContactFields(given_name="Augusta", email="other@example.com")
    updated, changed = apply_update(contact, patch, ["given_name"], LATER)
    assert changed == ["given_name"]
    assert updated.data.given_name == "Augusta"
    assert updated.data.email == "ada@example.com"
    assert updated.update_time == LATER
    assert updated.etag != contact.etag


def test_an_empty_mask_means_the_populated_fields_of_the_patch():
    contact = new_contact("C1", "T1", ContactFields(given_name="Ada", title="Countess"), NOW)
    updated, changed = apply_update(contact, ContactFields(title="Analyst"), [], LATER)
    assert changed == ["title"]
    assert updated.data.given_name == "Ada"


def test_output_only_fields_in_the_mask_are_ignored_but_unknown_ones_refused():
    contact = new_contact("C1", "T1", ContactFields(given_name="Ada"), NOW)
    unchanged, changed = apply_update(contact, ContactFields(given_name="Ada"), ["id", "etag", "given_name"], LATER)
    assert changed == [] and unchanged == contact
    with pytest.raises(InvalidArgument) as caught:
        apply_update(contact, ContactFields(), ["shoe_size"], LATER)
    assert fields_of(caught.value) == {"update_mask"}


def test_an_update_that_would_leave_an_invalid_contact_is_refused():
    contact = new_contact("C1", "T1", ContactFields(given_name="Ada"), NOW)
    with pytest.raises(InvalidArgument):
        apply_update(contact, ContactFields(), ["given_name"], LATER)


def test_a_stale_etag_is_a_conflict_and_a_missing_one_is_not_checked():
    contact = new_contact("C1", "T1", ContactFields(given_name="Ada"), NOW)
    check_etag(contact, "")
    check_etag(contact, contact.etag)
    with pytest.raises(Aborted):
        check_etag(contact, "stale")


def test_account_ids_must_be_non_empty_ids_without_slashes():
    with pytest.raises(InvalidArgument) as caught:
        normalise(ContactFields(given_name="A", account_ids=("acme", "", "a/b")))
    assert fields_of(caught.value) == {"account_ids"}
