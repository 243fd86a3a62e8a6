"""The memoised parts of email and phone validation (docs/adr/0077) answer exactly as uncached."""

import sys

import email_validator
import phonenumbers
import pytest

from crmkit.errors import Validator, _e164


def test_email_validator_still_looks_up_the_memoised_domain_check():
    module = sys.modules["email_validator.validate_email"]
    # An upgrade that renames or inlines the function would make the cache dead code: fail here.
    assert hasattr(module.validate_email_domain_name, "cache_info")
    assert module.validate_email_domain_name.__wrapped__ is email_validator.syntax.validate_email_domain_name


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("Ann@Example.COM", "Ann@example.com"),
        ("bob@EXAMPLE.com", "bob@example.com"),
        ("zoë@bücher.de", "zoë@bücher.de"),
        ("Postmaster@Example.com", "postmaster@example.com"),
    ],
)
def test_addresses_sharing_a_domain_are_each_normalised_in_full(address, normalised):
    for _ in range(2):  # the second time the domain comes from the cache
        check = Validator()
        assert check.email("email", address) == normalised and check.violations == []


@pytest.mark.parametrize("address", ["a@localhost", "a@exa_mple.com", "a..b@example.com", "a@-example.com"])
def test_a_bad_address_is_refused_every_time(address):
    for _ in range(3):  # failures are not cached as successes
        check = Validator()
        check.email("email", address)
        assert [v.field for v in check.violations] == ["email"]


def test_a_memoised_phone_is_the_same_as_a_parsed_one():
    for raw in ["+44 20 7946 0958", "+1 (415) 555-0123", "+14155550123"]:
        number = phonenumbers.parse(raw, None)
        expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for _ in range(2):
            check = Validator()
            assert check.phone("phone", raw) == expected and check.violations == []
    for raw, problem in [("12", "not a phone number"), ("+1 415 555 01", "not a valid phone number")]:
        for _ in range(2):
            check = Validator()
            assert check.phone("phone", raw) == raw  # the value as given, with the problem named
            assert [v.field for v in check.violations] == ["phone"] and problem in check.violations[0].description
    assert _e164.cache_info().hits >= 5
