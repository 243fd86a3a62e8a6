import pytest

from crmkit.events.transport import topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("crm.contacts.v1.ContactCreated", "crm.contacts.v1.ContactCreated", True),
        ("crm.contacts.v1.ContactCreated", "crm.contacts.v1.ContactUpdated", False),
        ("crm.contacts.v1.*", "crm.contacts.v1.ContactUpdated", True),
        ("crm.*", "crm.contacts.v1.ContactUpdated", False),
        ("crm.#", "crm.contacts.v1.ContactUpdated", True),
        ("#", "anything.at.all", True),
        ("crm.#.ContactCreated", "crm.contacts.v1.ContactCreated", True),
        ("crm.#.ContactCreated", "crm.ContactCreated", True),
        ("*.contacts", "crm.contacts.v1", False),
    ],
)
def test_amqp_topic_semantics(pattern, key, expected):
    assert topic_matches(pattern, key) is expected
