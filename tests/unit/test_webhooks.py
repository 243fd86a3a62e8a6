"""Webhook rules in memory: Standard Webhooks signatures, the SSRF guard, back-off, filters, catalogue."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json

import pytest
from crm.contacts.v1 import accounts_pb2, contacts_pb2
from crm.contacts.v1 import events_pb2 as contact_events
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1 import tickets_pb2

from crmkit.config import ConfigError, Settings
from crmkit.errors import InvalidArgument, Validator
from crmkit.secretbox import SecretBox, SecretBoxError, new_key
from services.integrations.webhooks import addresses, catalog, signing
from services.integrations.webhooks import domain as rules
from services.integrations.webhooks.addresses import AddressRefused
from services.integrations.webhooks.sender import Sender

# The test vector published with the Standard Webhooks specification and its reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TIMESTAMP = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_the_signature_matches_the_standard_webhooks_test_vector():
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert signing.verify(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, SPEC_SIGNATURE)
    assert not signing.verify(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY, SPEC_SIGNATURE)
    assert not signing.verify(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY + b" ", SPEC_SIGNATURE)


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    new, old = signing.new_secret(), signing.new_secret()
    header = signing.signature_header([new, old], "msg_1", 1700000000, b"{}")
    assert len(header.split(" ")) == 2 and all(s.startswith("v1,") for s in header.split(" "))
    assert signing.verify(new, "msg_1", 1700000000, b"{}", header)
    assert signing.verify(old, "msg_1", 1700000000, b"{}", header)
    assert not signing.verify(signing.new_secret(), "msg_1", 1700000000, b"{}", header)


def test_secrets_are_whsec_and_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert secret != signing.new_secret()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address, reason):
    found = addresses.forbidden_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert addresses.forbidden_reason(ipaddress.ip_address(address)) is None


def test_allowing_loopback_allows_loopback_only():
    allowed = {
        a: addresses.forbidden_reason(ipaddress.ip_address(a), True) for a in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    }
    assert allowed == {"127.0.0.1": None, "::1": None, "::ffff:127.0.0.1": None}
    for refused in ("10.0.0.1", "169.254.169.254", "fd00:ec2::254", "192.168.0.1"):
        assert addresses.forbidden_reason(ipaddress.ip_address(refused), True) is not None


def resolver_of(table):
    return lambda host, port: table.get(host, [])


def test_a_name_with_any_private_address_is_refused_and_a_public_one_is_pinned():
    resolver = resolver_of({"mixed.example": ["93.184.215.14", "10.0.0.7"], "ok.example": ["93.184.215.14"]})
    with pytest.raises(AddressRefused, match="private"):
        addresses.resolve("https://mixed.example/hook", resolver=resolver)
    target = addresses.resolve("https://ok.example:8443/hook?x=1", resolver=resolver)
    assert (target.host, target.port, target.path, target.address) == ("ok.example", 8443, "/hook?x=1", "93.184.215.14")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ok.example/hook", "https"),
        ("ftp://ok.example/", "https"),
        ("https://user:pw@ok.example/", "credentials"),
        ("https:///nohost", "host"),
        ("https://nowhere.example/", "does not resolve"),
        ("https://ok.example/" + "a" * 2100, "2048"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
    ],
)
def test_bad_urls_are_refused_saying_why(url, message):
    def resolver(host, port):
        # Names from the table; IP literals resolve to themselves, as getaddrinfo does.
        return {"ok.example": ["93.184.215.14"]}.get(host) or ([host] if host[0].isdigit() or ":" in host else [])

    with pytest.raises(AddressRefused, match=message):
        addresses.resolve(url, resolver=resolver)


def test_the_sender_refuses_before_connecting_when_the_name_now_resolves_privately():
    sender = Sender(1.0, resolver=resolver_of({"rebind.example": ["10.0.0.8"]}))
    answer = sender.post("https://rebind.example/hook", {}, b"{}")
    assert answer.status_code == 0 and "private" in answer.error and answer.latency_ms == 0


def test_https_dials_the_checked_address_and_never_follows_the_name_again():
    calls = []

    def resolver(host, port):
        calls.append((host, port))
        return ["127.0.0.1"]

    # Nothing listens on 127.0.0.1:9 (discard): the attempt fails as a connection error, not a crash,
    # after exactly one resolution (the address is then dialled directly).
    answer = Sender(1.0, allow_loopback=True, resolver=resolver).post("https://hooks.example:9/x", {}, b"{}")
    assert answer.status_code == 0 and answer.error and not answer.error.startswith("refused")
    assert calls == [("hooks.example", 9)]


def test_back_off_grows_exponentially_with_jitter_and_a_cap():
    low = [rules.backoff(n, 5.0, jitter=lambda: 0.0).total_seconds() for n in range(1, 6)]
    high = [rules.backoff(n, 5.0, jitter=lambda: 1.0).total_seconds() for n in range(1, 6)]
    assert low == pytest.approx([4.0, 12.0, 36.0, 108.0, 324.0])
    assert high == pytest.approx([6.0, 18.0, 54.0, 162.0, 486.0])
    assert rules.backoff(30, 5.0, jitter=lambda: 1.0).total_seconds() == pytest.approx(6 * 3600 * 1.2)


def webhook(**changes) -> rules.Webhook:
    base = rules.Webhook(
        "W1", "T1", rules.WebhookFields("https://ok.example", ("*",)), rules.ACTIVE, "", None, None, 0, None, NOW, NOW
    )
    return rules.Webhook(**{**base.__dict__, **changes})


def test_410_disables_at_once_and_other_failures_only_after_many_over_a_long_time():
    policy = rules.FailurePolicy(max_attempts=5, after_failures=3, after=dt.timedelta(hours=1))
    assert "410" in policy.disable_reason(webhook(), 410, NOW)
    assert (
        policy.disable_reason(webhook(consecutive_failures=2, failing_since=NOW - dt.timedelta(hours=5)), 500, NOW)
        is None
    )
    assert (
        policy.disable_reason(webhook(consecutive_failures=9, failing_since=NOW - dt.timedelta(minutes=5)), 500, NOW)
        is None
    )
    assert policy.disable_reason(webhook(consecutive_failures=3, failing_since=NOW - dt.timedelta(hours=1)), 503, NOW)


def test_filters_take_exact_types_resource_wildcards_and_everything():
    assert rules.matches(["contact.created"], "contact.created")
    assert not rules.matches(["contact.created"], "contact.updated")
    assert rules.matches(["contact.*"], "contact.deleted") and not rules.matches(["contact.*"], "ticket.created")
    assert rules.matches(["*"], "survey.answered")


def test_unknown_event_types_and_wildcards_are_named():
    check = Validator()
    rules.validate_fields(
        rules.WebhookFields("u", ("contact.created", "contact.exploded", "nope.*", "ticket.*")),
        catalog.EVENT_TYPES,
        check,
    )
    assert [v.field for v in check.violations] == ["event_types[1]", "event_types[2]"]
    check = Validator()
    rules.validate_fields(rules.WebhookFields("u", ()), catalog.EVENT_TYPES, check)
    assert [v.field for v in check.violations] == ["event_types"]


def test_a_rotation_overlap_is_24_hours_by_default_and_bounded():
    assert rules.overlap(None) == dt.timedelta(hours=24) and rules.overlap(0) == dt.timedelta(0)
    with pytest.raises(InvalidArgument, match="overlap_seconds"):
        rules.overlap(8 * 24 * 3600)


def comment(visibility):
    return support_events.CommentAdded(
        comment=tickets_pb2.Comment(id="M1", ticket_id="K1", body="note", visibility=visibility)
    )


def test_internal_comments_never_become_public_events():
    assert catalog.public_events(comment(tickets_pb2.Comment.INTERNAL)) == []
    [public] = catalog.public_events(comment(tickets_pb2.Comment.PUBLIC))
    assert public.type == "ticket.comment_added" and public.data["body"] == "note"


def test_a_solved_ticket_is_a_status_change_and_a_solved_event():
    event = support_events.TicketStatusChanged(
        ticket_id="K1",
        from_status=tickets_pb2.Ticket.OPEN,
        to_status=tickets_pb2.Ticket.SOLVED,
        ticket=tickets_pb2.Ticket(id="K1"),
    )
    assert [e.type for e in catalog.public_events(event)] == ["ticket.status_changed", "ticket.solved"]


def test_payloads_are_camel_case_json_in_an_envelope():
    created = contact_events.ContactCreated(contact=contacts_pb2.Contact(id="C1", given_name="Ada"))
    [public] = catalog.public_events(created)
    body = json.loads(catalog.body("msg_1", public, "T1", NOW))
    assert body == {
        "id": "msg_1",
        "type": "contact.created",
        "timestamp": "2026-11-23T12:00:00Z",
        "tenantId": "T1",
        "data": {"id": "C1", "givenName": "Ada"},
    }
    assert set(catalog.EVENT_TYPES) >= {e.type for m in [created] for e in catalog.public_events(m)}


def test_every_event_type_has_a_read_scope():
    assert all(catalog.scopes_for(name) for name in catalog.EVENT_TYPES)
    assert catalog.scopes_for("*") == set()  # everything the creator may read (fan-out filters)


def test_the_secret_box_seals_and_rotates_keys():
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal("whsec_abc")
    assert "whsec_abc" not in sealed
    rotated_box = SecretBox([new, old])
    assert rotated_box.open(sealed) == "whsec_abc"
    resealed = rotated_box.rotate(sealed)
    assert SecretBox([new]).open(resealed) == "whsec_abc"
    with pytest.raises(SecretBoxError):
        SecretBox([new]).open(sealed)
    with pytest.raises(SecretBoxError):
        SecretBox(["not-a-key"])


def test_webhook_settings_are_read_from_the_environment():
    settings = Settings.from_env({"CRM_WEBHOOKS_ALLOW_LOOPBACK": "true", "CRM_SECRET_KEYS": "a,b"})
    assert settings.webhooks_allow_loopback and settings.secret_keys == ("a", "b")
    assert not Settings.from_env({}).webhooks_allow_loopback
    with pytest.raises(ConfigError, match="CRM_WEBHOOKS_ALLOW_LOOPBACK"):
        Settings.from_env({"CRM_WEBHOOKS_ALLOW_LOOPBACK": "maybe"})


def test_sales_and_account_events_are_public_and_need_the_owning_services_read_scope():
    won = sales_events.OpportunityWon(
        opportunity=sales_events.OpportunitySnapshot(id="O1", name="Big deal", stage_category="won"), reason="price"
    )
    [public] = catalog.public_events(won)
    assert (public.type, public.data["opportunity"]["id"], public.data["reason"]) == ("opportunity.won", "O1", "price")
    created = contact_events.AccountCreated(account=accounts_pb2.Account(id="A1", name="Acme"))
    assert [(e.type, e.data["name"]) for e in catalog.public_events(created)] == [("account.created", "Acme")]
    assert catalog.scopes_for("opportunity.*") == {"sales:read"} and catalog.scopes_for("lead.created") == {
        "sales:read"
    }
    assert catalog.scopes_for("account.updated") == {"contacts:read"}
    assert {"opportunity.won", "lead.converted", "quote.accepted", "contact.merged"} <= set(catalog.EVENT_TYPES)
