"""Agents and groups: what a caller may write, validated."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import email_validator

from crmkit.errors import Aborted, Validator

MAX_NAME = 200
MAX_LABEL = 64
MAX_SKILLS = 50
MAX_GROUPS = 50
MAX_CAPACITY = 1000
SINGLE_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag", "load"})


@dataclass(frozen=True)
class AgentFields:
    display_name: str = ""
    email: str = ""
    skills: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    capacity: int = 0
    available: bool = False

    def populated(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


WRITABLE_FIELDS = frozenset(f.name for f in fields(AgentFields))


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
    skills = _labels(check, "skills", data.skills, MAX_SKILLS)
    groups = _labels(check, "group_ids", data.group_ids, MAX_GROUPS)
    check.raise_if_any()
    return AgentFields(name, email, skills, groups, data.capacity, data.available)


def new_agent(agent_id: str, tenant_id: str, data: AgentFields, now: dt.datetime) -> Agent:
    data = normalise_agent(data)
    return Agent(agent_id, tenant_id, data, now, now, _etag(agent_id, data, now))


def apply_agent_update(
    agent: Agent, patch: AgentFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Agent, list[str]]:
    paths = [p for p in (mask or patch.populated()) if p not in SYSTEM_FIELDS]
    check = Validator()
    for path in paths:
        if path not in WRITABLE_FIELDS:
            check.add("update_mask", f"unknown or read-only field {path!r}")
    check.raise_if_any()
    merged = normalise_agent(replace(agent.data, **{p: getattr(patch, p) for p in paths}))
    changed = [p for p in sorted(set(paths)) if getattr(merged, p) != getattr(agent.data, p)]
    if not changed:
        return agent, []
    return replace(agent, data=merged, update_time=now, etag=_etag(agent.id, merged, now)), changed


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


def _etag(agent_id: str, data: AgentFields, now: dt.datetime) -> str:
    state = {f.name: getattr(data, f.name) for f in fields(data)}
    canonical = json.dumps([agent_id, now.isoformat(), state], sort_keys=True, default=list)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def _labels(check: Validator, name: str, items: Sequence[str], limit: int) -> tuple[str, ...]:
    if len(items) > limit:
        check.add(name, f"at most {limit} entries")
    cleaned = []
    for item in items:
        value = item.strip()
        if not value or len(value) > MAX_LABEL or SINGLE_LINE_CONTROL.search(value) or "/" in value:
            check.add(name, f"each entry must have 1 to {MAX_LABEL} printable characters without '/'")
        cleaned.append(value)
    return tuple(dict.fromkeys(cleaned))
