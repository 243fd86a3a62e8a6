"""Field mappings (docs/adr/0057) and connection validation: pure functions, no I/O."""

from __future__ import annotations

import pytest

from crmkit.errors import InvalidArgument
from services.integrations.connections import ConnectionFields, FieldMapping, Secrets, normalise, unchanged
from services.integrations.connectors import mapping

PARTNER = "res.partner"


def test_inbound_mappings_override_and_fill_custom_fields_and_skip_outbound_only_ones() -> None:
    mappings = (
        FieldMapping(PARTNER, "mobile", "phone", "INBOUND"),
        FieldMapping(PARTNER, "ref", "customFields.odooRef"),
        FieldMapping(PARTNER, "comment", "title", "OUTBOUND"),
    )
    record = {"mobile": "+1 555", "ref": False, "comment": "note", "parent_id": [3, "Acme"]}
    values = mapping.inbound(mappings, record, {"phone": "old", "title": "CTO"})
    assert values == {"phone": "+1 555", "title": "CTO", "customFields": {"odooRef": ""}}
    assert mapping.inbound((FieldMapping(PARTNER, "parent_id", "customFields.parent"),), record, {}) == {
        "customFields": {"parent": "Acme"}
    }
    assert mapping.external_fields(mappings) == ["mobile", "ref"]


def test_outbound_mappings_read_standard_and_custom_crm_fields() -> None:
    mappings = (FieldMapping(PARTNER, "ref", "customFields.odooRef"), FieldMapping(PARTNER, "x", "title", "INBOUND"))
    crm = {"title": "CTO", "customFields": {"odooRef": "C-9"}}
    assert mapping.outbound(mappings, crm, {"name": "Ada"}) == {"name": "Ada", "ref": "C-9"}


def test_connection_validation_names_each_field() -> None:
    odoo = ConnectionFields(type="ODOO", display_name="O", base_url="https://x.example", database="d", username="u")
    with pytest.raises(InvalidArgument) as caught:
        normalise(
            ConnectionFields(
                type="ODOO",
                display_name="O",
                base_url="https://x.example?token=1",
                field_mappings=(
                    FieldMapping(PARTNER, "a", "title"),
                    FieldMapping(PARTNER, "b", "title"),
                    FieldMapping("", "c d", "nope.nope", "SIDEWAYS"),
                ),
            ),
            Secrets(),
        )
    fields = {v.field for v in caught.value.violations}
    assert fields == {
        "base_url",
        "database",
        "username",
        "api_key",
        "field_mappings[1]",
        "field_mappings[2].direction",
        "field_mappings[2].stream",
        "field_mappings[2].external_field",
        "field_mappings[2].crm_field",
    }
    assert normalise(odoo, Secrets(api_key="k")).budget_per_minute == 60
    xero = ConnectionFields(type="XERO", display_name="X", xero_tenant_id="t", client_id="c")
    normalised = normalise(xero, Secrets(client_secret="s", refresh_token="r"))
    assert normalised.base_url == "https://api.xero.com" and normalised.token_url.startswith("https://identity.xero")
    assert normalised.budget_per_minute == 60 and "s" not in repr(Secrets(client_secret="s")).split("(")[1]


def test_synced_hashes_treat_empty_values_alike() -> None:
    assert not unchanged({}, {"email": ""})
    from services.integrations.connections import _hash

    synced = {"email": _hash(""), "name": _hash("Ada")}
    assert unchanged(synced, {"email": False, "name": "Ada"})
    assert not unchanged(synced, {"email": "a@b.example"})
    assert unchanged(synced, {"customFields.ref": None})  # never synced and empty: nothing to send
    assert not unchanged(synced, {"customFields.ref": "R-1"})
