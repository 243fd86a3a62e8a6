"""Roles are bundles of scopes; protected fields are declared in the protos and need their scope."""

import pytest

from crmkit.tokens import InternalTokens, Principal
from gateway import roles
from gateway.routes import discover, mass_assignment, protected_fields


def route(name: str):
    return next(r for r in discover() if r.method.name == name)


def test_owner_id_is_declared_protected_in_the_proto():
    assert protected_fields(route("CreateContact")) == {"ownerId": "contacts:assign"}
    assert protected_fields(route("UpdateContact")) == {"ownerId": "contacts:assign"}


def test_a_write_naming_a_protected_field_without_its_scope_is_refused_by_name():
    rep = roles.scopes_for(["sales_rep"], [])
    refused = mass_assignment(route("CreateContact"), {"givenName": "A", "ownerId": "U2"}, [], rep.__contains__)
    assert [(v.field, v.description) for v in refused] == [
        ("ownerId", "may only be set with the contacts:assign scope")
    ]
    by_mask = mass_assignment(route("UpdateContact"), {"givenName": "A"}, ["owner_id"], rep.__contains__)
    assert [v.field for v in by_mask] == ["ownerId"]
    manager = roles.scopes_for(["sales_manager"], [])
    assert mass_assignment(route("CreateContact"), {"ownerId": "U2"}, [], manager.__contains__) == []


@pytest.mark.parametrize("role", sorted(set(roles.ROLES) - {"admin"}))
def test_no_role_but_admin_reaches_admin_routes(role):
    granted = Principal("T", "s", roles.scopes_for([role], []))
    admin_routes = [r for r in discover() if r.scope == "admin"]
    assert admin_routes and not any(granted.has_scope(r.scope) for r in admin_routes)


def test_every_role_grants_only_known_scopes():
    known = roles.known_scopes()
    for role, scopes in roles.ROLES.items():
        assert scopes <= known, role


def test_own_records_only_holds_for_reps_and_agents_alone():
    assert roles.own_records_only(["sales_rep"]) and roles.own_records_only(["support_agent", "sales_rep"])
    assert not roles.own_records_only(["sales_rep", "sales_manager"])
    assert not roles.own_records_only([])


def test_the_internal_token_carries_the_own_records_claim():
    tokens = InternalTokens("s" * 40)
    rep = Principal("T1", "user:u1", frozenset({"contacts:read"}), own_records_only=True)
    assert tokens.verify(tokens.mint(rep)).own_records_only is True
    assert tokens.verify(tokens.mint(Principal("T1", "apikey:k", frozenset()))).own_records_only is False


def test_only_sales_managers_choose_a_leads_owner_and_configure_sales():
    rep, manager = roles.scopes_for(["sales_rep"], []), roles.scopes_for(["sales_manager"], [])
    refused = mass_assignment(route("CreateLead"), {"givenName": "A", "ownerId": "U2"}, [], rep.__contains__)
    assert [v.field for v in refused] == ["ownerId"]
    assert mass_assignment(route("UpdateLead"), {"ownerId": "U2"}, [], manager.__contains__) == []
    assert "sales:manage" in manager and "sales:manage" not in rep
