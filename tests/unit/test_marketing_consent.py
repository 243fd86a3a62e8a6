import datetime as dt

import pytest

from crmkit.errors import FailedPrecondition, InvalidArgument
from services.marketing.domain import AudienceMember
from services.marketing.domain.consent import (
    ConsentRequest,
    Recipient,
    Subscription,
    change,
    may_send,
    normalise_email,
    validate_request,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def member(email: str = "Ada@Example.com", phone: str = "", deleted: bool = False) -> AudienceMember:
    return AudienceMember("T", "C", email, "Ada", "L", "LEAD", (), T0, deleted, phone)


def sub(channel: str = "email", status: str = "SUBSCRIBED", basis: str = "CONSENT") -> Subscription:
    return Subscription("T", "C", channel, status, basis, "form", T0)


def request(status: str = "SUBSCRIBED", basis: str = "CONSENT", explicit: bool = False) -> ConsentRequest:
    return ConsentRequest("email", status, basis, "preference centre", explicit)


def test_a_subscribed_contact_with_an_address_may_be_sent_to():
    assert may_send(Recipient(member(), {"email": sub()}), "email", set()).allowed


@pytest.mark.parametrize(
    ("recipient", "channel", "reason"),
    [
        (Recipient(member(), {}), "email", "no_consent"),
        (Recipient(member(), {"email": sub(status="UNSUBSCRIBED")}), "email", "unsubscribed"),
        (Recipient(member(deleted=True), {"email": sub()}), "email", "contact_deleted"),
        (Recipient(member(email=""), {"email": sub()}), "email", "no_address"),
        (Recipient(member(), {"email": sub()}), "fax", "unknown_channel"),
        (Recipient(member(), {"sms": sub("sms")}), "sms", "no_address"),
        (Recipient(member(), {"email": sub()}), "sms", "no_consent"),
    ],
)
def test_may_send_refuses_and_says_why(recipient, channel, reason):
    decision = may_send(recipient, channel, set())
    assert not decision.allowed and decision.reason == reason


def test_a_suppressed_address_is_refused_whatever_its_case_or_contact():
    suppression = {normalise_email(" ADA@example.COM ")}
    decision = may_send(Recipient(member("ada@EXAMPLE.com"), {"email": sub()}), "email", suppression)
    assert decision == decision.__class__(False, "suppressed")
    # Another channel is not an email address.
    assert may_send(Recipient(member(phone="+33612345678"), {"sms": sub("sms")}), "sms", suppression).allowed


def test_an_unsubscribe_is_final_until_an_explicit_opt_in():
    unsubscribed = sub(status="UNSUBSCRIBED", basis="LEGITIMATE_INTEREST")
    with pytest.raises(FailedPrecondition):
        change(unsubscribed, request(basis="LEGITIMATE_INTEREST"), "T", "C", T0)
    with pytest.raises(FailedPrecondition):
        change(unsubscribed, request(), "T", "C", T0)
    again = change(unsubscribed, request(explicit=True), "T", "C", T0)
    assert again is not None and again.status == "SUBSCRIBED" and again.explicit_opt_in


def test_a_repeated_decision_changes_nothing_and_a_new_one_does():
    current = change(None, request(), "T", "C", T0)
    assert current is not None
    assert change(current, request(), "T", "C", T0 + dt.timedelta(days=1)) is None
    assert change(current, request(status="UNSUBSCRIBED"), "T", "C", T0).status == "UNSUBSCRIBED"  # type: ignore[union-attr]


def test_requests_are_validated_by_field():
    with pytest.raises(InvalidArgument) as caught:
        validate_request(ConsentRequest("fax", "MAYBE", "WHIM", " ", True))
    fields = {v.field for v in caught.value.violations}
    assert fields == {"channel", "status", "legalBasis", "source", "explicitOptIn"}
