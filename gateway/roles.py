"""Roles: named bundles of scopes that credentials and user tokens carry (docs/adr/0013).

Scopes stay the unit every route checks (proto `required_scope`); a role is only a name for a set
of them, resolved when a request is authenticated, so changing a role here changes every key and
user that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable

from crmkit.errors import FieldViolation
from crmkit.tokens import ADMIN_SCOPE

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({ADMIN_SCOPE}),
    "sales_manager": frozenset(
        {"contacts:read", "contacts:write", "contacts:assign", "sales:read", "sales:write", "marketing:read"}
        | {"support:read", "contacts:import", "contacts:export", "sales:assign", "sales:manage"}
    ),
    "sales_rep": frozenset({"contacts:read", "contacts:write", "sales:read", "sales:write", "marketing:read"}),
    "support_agent": frozenset({"contacts:read", "support:read", "support:write"}),
    "marketer": frozenset({"contacts:read", "marketing:read", "marketing:write"}),
    # Partners manage their own webhook subscriptions (each event type still needs its read scope).
    "partner": frozenset({"contacts:read", "contacts:write", "sales:read", "integrations:read", "integrations:write"}),
}
# Roles that see and change only the records they own: the internal token says so (`own` claim)
# and services filter by owner (docs/adr/0013). A holder of any other role as well is not limited.
OWN_RECORDS_ROLES = frozenset({"sales_rep", "support_agent"})
# Scopes that no route requires but that fields or roles refer to.
EXTRA_SCOPES = frozenset({"contacts:assign", "sales:read", "sales:write", "support:read", "support:write"})
EXTRA_SCOPES |= frozenset({"marketing:write"})


def scopes_for(roles: Iterable[str], scopes: Iterable[str]) -> frozenset[str]:
    granted = set(scopes)
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)


def own_records_only(roles: Iterable[str]) -> bool:
    held = set(roles)
    return bool(held) and held <= OWN_RECORDS_ROLES


def known_scopes() -> frozenset[str]:
    from gateway.routes import discover, field_write_scopes

    found = {r.scope for r in discover() if r.scope} | field_write_scopes() | EXTRA_SCOPES | {ADMIN_SCOPE}
    for granted in ROLES.values():
        found |= granted
    return frozenset(found)


def check_grants(roles: list[str], scopes: list[str], prefix: str = "") -> list[FieldViolation]:
    """Violations for unknown roles or scopes, and for a credential that would grant nothing."""
    violations = [
        FieldViolation(f"{prefix}roles[{i}]", f"unknown role; one of {', '.join(sorted(ROLES))}")
        for i, role in enumerate(roles)
        if role not in ROLES
    ]
    known = known_scopes()
    violations += [
        FieldViolation(f"{prefix}scopes[{i}]", "unknown scope") for i, scope in enumerate(scopes) if scope not in known
    ]
    if not roles and not scopes:
        violations.append(FieldViolation(f"{prefix}roles", "give at least one role or scope"))
    return violations
