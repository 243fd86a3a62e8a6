"""Field mappings applied by a sync (docs/adr/0057): external field -> CRM field on the way in, CRM
field -> external field on the way out. CRM values are the objects' JSON (camelCase) shapes, a
custom field being "customFields.<key>"; empty remote values (Odoo answers False) arrive as ""."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.integrations.connections import FieldMapping

CUSTOM = "customFields."


def _plain(value: Any) -> Any:
    if value is False or value is None:
        return ""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
        return value[1]  # a many2one answered as [id, display name]
    return value


def get_crm(values: Mapping[str, Any], crm_field: str) -> Any:
    if crm_field.startswith(CUSTOM):
        return (values.get("customFields") or {}).get(crm_field[len(CUSTOM) :], "")
    return values.get(crm_field, "")


def set_crm(values: dict[str, Any], crm_field: str, value: Any) -> None:
    if crm_field.startswith(CUSTOM):
        values.setdefault("customFields", {})[crm_field[len(CUSTOM) :]] = value
    else:
        values[crm_field] = value


def inbound(mappings: Iterable[FieldMapping], record: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` (the connector's standard CRM values) with the inbound mappings applied over them."""
    for mapping in mappings:
        if mapping.inbound and mapping.external_field in record:
            set_crm(values, mapping.crm_field, _plain(record[mapping.external_field]))
    return values


def outbound(mappings: Iterable[FieldMapping], crm: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` (the connector's standard external values) with the outbound mappings applied."""
    for mapping in mappings:
        if mapping.outbound:
            values[mapping.external_field] = get_crm(crm, mapping.crm_field)
    return values


def external_fields(mappings: Iterable[FieldMapping]) -> list[str]:
    """The external fields the inbound mappings read (to ask the remote system for)."""
    return sorted({m.external_field for m in mappings if m.inbound})
