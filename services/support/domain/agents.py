"""Agents and groups: what a caller may write, validated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import email_validator

from crmkit.errors import SINGLE_LINE_CONTROL, Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask

MAX_NAME = 200
MAX_LABEL = 64
MAX_SKILLS = 50
MAX_GROUPS = 50
MAX_CAPACITY = 1000
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag", "load"})


@dataclass(frozen=True)
class AgentFields:
    display_name: str = ""
    email: str = ""
    skills: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    capacity: int = 0
    available: bool = False


@dataclass(frozen=True)
class Agent:
    id: str
    tenant_id: str
    data: AgentFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


@dataclass(frozen=True)
class Group:
    id: str
    tenant_id: str
    name: str
    description: str
    create_time: dt.datetime


def normalise_agent(data: AgentFields) -> AgentFields:
    check = Validator()
    name = data.display_name.strip()
    if not name or len(name) > MAX_NAME or SINGLE_LINE_CONTROL.search(name):
        check.add("display_name", f"is required: one line of at most {MAX_NAME} characters")
    email = data.email.strip()
    if email:
        try:
            email = email_validator.validate_email(email, check_deliverability=False).normalized
        except email_validator.EmailNotValidError as exc:
            check.add("email", f"not a valid address: {exc}")
    if not 1 <= data.capacity <= MAX_CAPACITY:
        check.add("capacity", f"must be between 1 and {MAX_CAPACITY} active tickets")
    skills = check.labels("skills", data.skills, limit=MAX_SKILLS, max_length=MAX_LABEL, allow_slash=False)
    groups = check.labels("group_ids", data.group_ids, limit=MAX_GROUPS, max_length=MAX_LABEL, allow_slash=False)
    check.raise_if_any()
    return AgentFields(name, email, skills, groups, data.capacity, data.available)


def new_agent(agent_id: str, tenant_id: str, data: AgentFields, now: dt.datetime) -> Agent:
    data = normalise_agent(data)
    return Agent(agent_id, tenant_id, data, now, now, etag_of(agent_id, data, now))


def apply_agent_update(
    agent: Agent, patch: AgentFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Agent, list[str]]:
    merged, changed = apply_mask(agent.data, patch, mask, normalise_agent, SYSTEM_FIELDS)
    if not changed:
        return agent, []
    return replace(agent, data=merged, update_time=now, etag=etag_of(agent.id, merged, now)), changed


def check_agent_etag(agent: Agent, expected: str) -> None:
    if expected and expected != agent.etag:
        raise Aborted(f"agent {agent.id} was changed since etag {expected}; read it again and retry")


def new_group(group_id: str, tenant_id: str, name: str, description: str, now: dt.datetime) -> Group:
    check = Validator()
    name, description = name.strip(), description.strip()
    if not name or len(name) > MAX_NAME or SINGLE_LINE_CONTROL.search(name):
        check.add("name", f"is required: one line of at most {MAX_NAME} characters")
    if len(description) > 2000:
        check.add("description", "at most 2000 characters")
    check.raise_if_any()
    return Group(group_id, tenant_id, name, description, now)
