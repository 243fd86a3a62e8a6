"""Marketing's email templates: the sandboxed rendering is crmkit.templating's (shared with
automation rules); what `{{ contact.* }}` offers is marketing's."""

from __future__ import annotations

from typing import Any

from crmkit.templating import MAX_OUTPUT, MAX_SOURCE, PARTS, Rendered, RenderError, TemplateParts, render, validate
from services.marketing.domain import AudienceMember

__all__ = [
    "MAX_OUTPUT",
    "MAX_SOURCE",
    "PARTS",
    "RenderError",
    "Rendered",
    "TemplateParts",
    "contact_context",
    "render",
    "validate",
]


def contact_context(member: AudienceMember) -> dict[str, Any]:
    """What `{{ contact.* }}` offers: only fields with a value, so `default(...)` supplies fallbacks."""
    values: dict[str, Any] = {
        "id": member.contact_id,
        "email": member.email,
        "givenName": member.given_name,
        "familyName": member.family_name,
        "lifecycleStage": member.lifecycle_stage,
        "tags": list(member.tags),
        "customFields": {k: v for k, v in member.custom_fields.items() if v not in (None, "")},
    }
    return {k: v for k, v in values.items() if v not in ("", None)}
