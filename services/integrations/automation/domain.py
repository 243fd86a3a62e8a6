"""Automation rules: validation, matching an event, the loop guard and what each action does.
Pure Python, no I/O (docs/adr/0061, docs/adr/0062)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import lark

from crmkit import filtering, templating
from crmkit.errors import Aborted, InvalidArgument, Validator
from crmkit.etags import etag_of

ENABLED, DISABLED = "ENABLED", "DISABLED"
PENDING, SUCCEEDED, FAILED, SKIPPED = "PENDING", "SUCCEEDED", "FAILED", "SKIPPED"
ASSIGN_OWNER, CREATE_TASK, SEND_EMAIL = "assign_owner", "create_task", "send_email"
UPDATE_FIELD, CALL_WEBHOOK = "update_field", "call_webhook"
ACTION_TYPES = (ASSIGN_OWNER, CREATE_TASK, SEND_EMAIL, UPDATE_FIELD, CALL_WEBHOOK)
MAX_ACTIONS = 10
MAX_NAME, MAX_DESCRIPTION, MAX_TEMPLATE = 200, 1000, 20_000
MAX_DUE_HOURS = 24 * 366
# How many rules may run one after the other, each caused by the one before (A's action triggers
# B, whose action triggers C...): the chain of an event that is this long triggers nothing more.
MAX_DEPTH = 5
MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 3600.0

# The record's fields an action may set, per resource: API path -> its update-mask path.
CONTACT_FIELDS = {
    "givenName": "given_name",
    "familyName": "family_name",
    "title": "title",
    "phone": "phone",
    "lifecycleStage": "lifecycle_stage",
    "tags": "tags",
}
TICKET_FIELDS = {"priority": "priority", "status": "status", "tags": "tags", "groupId": "group_id"}
UPDATABLE = {"contact": CONTACT_FIELDS, "ticket": TICKET_FIELDS}
OWNER_FIELD = {"contact": "ownerId", "ticket": "assigneeId"}


@dataclass(frozen=True)
class Action:
    """One action; which parameters count depends on `type` (the others stay empty)."""

    type: str
    owner_id: str = ""
    subject: str = ""
    body: str = ""
    due_in_hours: int = 0
    to: str = ""
    text_body: str = ""
    html_body: str = ""
    connection_id: str = ""
    field: str = ""
    value: str = ""
    webhook_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k == "type"}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Action:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class RuleFields:
    """What an admin sets."""

    display_name: str = ""
    description: str = ""
    event_type: str = ""
    condition: str = ""
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    tenant_id: str
    data: RuleFields
    state: str
    create_time: dt.datetime
    update_time: dt.datetime

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.data, self.update_time, self.state)


@dataclass(frozen=True)
class ActionResult:
    type: str
    outcome: str = PENDING
    error: str = ""
    duration_ms: int = 0
    result_ref: str = ""
    # The action as the rule said when the event triggered it (Action.as_json): an execution runs
    # what was planned, not what the rule was edited into meanwhile. Empty in executions planned
    # before it was kept: those run the rule's current action at that position.
    action: dict[str, Any] = field(default_factory=dict, compare=False)


def planned_actions(rule: Rule, results: Sequence[ActionResult]) -> tuple[Action, ...]:
    """The actions an execution runs: those kept when it was planned, position by position."""
    if results and all(r.action for r in results):
        return tuple(Action.from_json(r.action) for r in results)
    return rule.data.actions


@dataclass(frozen=True)
class Execution:
    id: str
    tenant_id: str
    rule_id: str
    event_id: str
    event_type: str
    subject_id: str
    # The public event's data as the rule saw it (templates render from it when the actions run).
    event_data: dict[str, Any]
    event_time: dt.datetime
    state: str
    reason: str
    causation_chain: tuple[str, ...]
    actions: tuple[ActionResult, ...]
    attempt_count: int
    next_attempt_time: dt.datetime | None
    create_time: dt.datetime
    start_time: dt.datetime | None = None
    finish_time: dt.datetime | None = None

    @property
    def duration_ms(self) -> int:
        if self.start_time is None or self.finish_time is None:
            return 0
        return int((self.finish_time - self.start_time).total_seconds() * 1000)


# --- validation ---


def resource_of(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def parsed_condition(condition: str) -> lark.Tree | None:
    """The condition's tree; an InvalidArgument names `condition`."""
    try:
        return filtering.parse(condition)
    except InvalidArgument as exc:
        check = Validator()
        for violation in exc.violations:
            check.add("condition", violation.description)
        check.raise_if_any()
        raise  # pragma: no cover - raise_if_any raised


def validate_fields(fields: RuleFields, known_types: Collection[str], check: Validator) -> RuleFields:
    """The fields cleaned; each problem added to `check`, naming the field."""
    name = check.text("display_name", fields.display_name, MAX_NAME)
    if not name:
        check.add("display_name", "is required")
    description = check.text("description", fields.description, MAX_DESCRIPTION, multiline=True)
    event_type = fields.event_type.strip()
    if event_type not in known_types:
        check.add("event_type", "name one public event type; see GET /v1/webhookEventTypes")
    condition = fields.condition.strip()
    try:
        parsed_condition(condition)
    except InvalidArgument as exc:
        for violation in exc.violations:
            check.add(violation.field, violation.description)
    if not fields.actions:
        check.add("actions", "name at least one action")
    if len(fields.actions) > MAX_ACTIONS:
        check.add("actions", f"at most {MAX_ACTIONS} actions")
    resource = resource_of(event_type)
    actions = tuple(
        _validated_action(f"actions[{i}]", a, resource, check) for i, a in enumerate(fields.actions[:MAX_ACTIONS])
    )
    return RuleFields(name, description, event_type, condition, actions)


def _template(check: Validator, path: str, source: str, html: bool = False, multiline: bool = True) -> str:
    cleaned = check.text(path, source, MAX_TEMPLATE, multiline=multiline)
    problem = templating.check_syntax(cleaned, html)
    if problem:
        check.add(path, problem)
    return cleaned


def _validated_action(path: str, action: Action, resource: str, check: Validator) -> Action:
    # Below the top level, violations use the JSON names (the gateway turns only the head into one).
    kind = action.type
    if kind not in ACTION_TYPES:
        check.add(path, f"set exactly one of {', '.join(ACTION_TYPES)}")
        return action
    owners = ("contact", "ticket")
    if kind == ASSIGN_OWNER:
        owner = check.identifier(f"{path}.assignOwner.ownerId", action.owner_id, 64)
        if not owner:
            check.add(f"{path}.assignOwner.ownerId", "is required")
        if resource not in owners:
            check.add(path, f"assign_owner needs a contact or ticket event, not {resource}")
        return Action(kind, owner_id=owner)
    if kind == CREATE_TASK:
        p = f"{path}.createTask"
        subject = _template(check, f"{p}.subject", action.subject, multiline=False)
        if not subject:
            check.add(f"{p}.subject", "is required")
        body = _template(check, f"{p}.body", action.body)
        if not 0 <= action.due_in_hours <= MAX_DUE_HOURS:
            check.add(f"{p}.dueInHours", f"must be between 0 and {MAX_DUE_HOURS}")
        owner = check.identifier(f"{p}.ownerId", action.owner_id, 64) if action.owner_id else ""
        if resource not in owners:
            check.add(path, f"create_task needs a contact or ticket event, not {resource}")
        return Action(kind, subject=subject, body=body, due_in_hours=action.due_in_hours, owner_id=owner)
    if kind == SEND_EMAIL:
        p = f"{path}.sendEmail"
        to = _template(check, f"{p}.to", action.to, multiline=False)
        if not to and resource != "contact":
            check.add(f"{p}.to", "is required for events that are not about a contact")
        subject = _template(check, f"{p}.subject", action.subject, multiline=False)
        if not subject:
            check.add(f"{p}.subject", "is required")
        text = _template(check, f"{p}.textBody", action.text_body)
        html = _template(check, f"{p}.htmlBody", action.html_body, html=True)
        if not text and not html:
            check.add(f"{p}.textBody", "give a text or an HTML body (or both)")
        connection = check.identifier(f"{p}.connectionId", action.connection_id) if action.connection_id else ""
        return Action(kind, to=to, subject=subject, text_body=text, html_body=html, connection_id=connection)
    if kind == UPDATE_FIELD:
        p = f"{path}.updateField"
        allowed = UPDATABLE.get(resource, {})
        name = action.field.strip()
        if not allowed:
            check.add(path, f"update_field needs a contact or ticket event, not {resource}")
        elif name not in allowed and not (resource == "contact" and _custom_key(name)):
            known = ", ".join([*allowed, *(["customFields.<key>"] if resource == "contact" else [])])
            check.add(f"{p}.field", f"not a field a rule may set on a {resource}; one of {known}")
        value = _template(check, f"{p}.value", action.value, multiline=False)
        return Action(kind, field=name, value=value)
    p = f"{path}.callWebhook.webhookId"
    webhook = check.identifier(p, action.webhook_id, 26)
    if not webhook:
        check.add(p, "is required")
    return Action(kind, webhook_id=webhook)


def _custom_key(name: str) -> bool:
    prefix, _, key = name.partition(".")
    return prefix == "customFields" and bool(key) and key.replace("_", "").isalnum() and len(key) <= 64


def check_etag(rule: Rule, expected: str) -> None:
    if expected and expected != rule.etag:
        raise Aborted(f"automation rule {rule.id} was changed since etag {expected}; read it again and retry")


# --- matching and the loop guard ---


def record_of(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The record an event is about, as its data carries it: the data itself (contact.created) or
    the object under the resource's name (contact.updated's `contact`)."""
    resource = resource_of(event_type)
    nested = data.get(resource)
    if isinstance(nested, Mapping):
        return dict(nested)
    return dict(data)


def subject_id_of(event_type: str, data: Mapping[str, Any]) -> str:
    """The id of the record the event is about: a `<resource>Id` the data names (a comment's
    `ticketId`, ticket.assigned's), else the record's own id."""
    record = record_of(event_type, data)
    key = f"{resource_of(event_type)}Id"
    return str(data.get(key) or record.get(key) or record.get("id") or "")


def matches(rule: Rule, event_type: str, data: Mapping[str, Any]) -> bool:
    if rule.data.event_type != event_type:
        return False
    return filtering.evaluate(parsed_condition(rule.data.condition), data)


def loop_reason(rule_id: str, chain: Sequence[str], max_depth: int = MAX_DEPTH) -> str:
    """Why a rule must not run for an event caused by `chain` ('' when it may)."""
    if rule_id in chain:
        loop = " → ".join([*chain, rule_id])
        return f"loop: the rule already ran in the chain that caused this event ({loop})"
    if len(chain) >= max_depth:
        return f"too deep: {len(chain)} rules ran one after another before this event (at most {max_depth})"
    return ""


# --- rendering what an action does ---


def template_context(rule: Rule, event_type: str, data: Mapping[str, Any], event_id: str = "") -> dict[str, Any]:
    return {
        "event": {"id": event_id, "type": event_type},
        "data": dict(data),
        "record": record_of(event_type, data),
        "rule": {"id": rule.id, "displayName": rule.data.display_name},
    }


class ActionFailed(Exception):
    """An action that cannot succeed (a template error, a refused value): not retried."""


def render(source: str, context: dict[str, Any], html: bool = False, part: str = "template") -> str:
    text = templating.render_one(source, context, html, part)
    if isinstance(text, templating.RenderError):
        raise ActionFailed(f"{text.part}: {text.message}")
    return text


@dataclass(frozen=True)
class Planned:
    """What an action will do, rendered: its description for a dry run, its values for the run."""

    type: str
    description: str
    values: dict[str, Any] = field(default_factory=dict)


def plan(action: Action, rule: Rule, event_type: str, data: Mapping[str, Any], event_id: str = "") -> Planned:
    """The action with its templates rendered against the event; ActionFailed when one cannot be.
    A task without an owner goes to the owner an earlier action of the rule assigns, else to the
    record's owner."""
    context = template_context(rule, event_type, data, event_id)
    resource = resource_of(event_type)
    record = record_of(event_type, data)
    subject_id = subject_id_of(event_type, data)
    if action.type == ASSIGN_OWNER:
        owner_field = OWNER_FIELD[resource]
        return Planned(
            action.type, f"set {resource} {subject_id}'s {owner_field} to {action.owner_id}", {"owner": action.owner_id}
        )
    if action.type == CREATE_TASK:
        contact_id = subject_id if resource == "contact" else str(record.get("requesterId", ""))
        if not contact_id:
            raise ActionFailed(f"the {resource} has no contact to put the task on")
        subject = " ".join(render(action.subject, context, part="subject").split())[:300]
        body = render(action.body, context, part="body")
        earlier = rule.data.actions[: rule.data.actions.index(action)] if action in rule.data.actions else ()
        assigned = [a.owner_id for a in earlier if a.type == ASSIGN_OWNER]
        owner = action.owner_id or (assigned[-1] if assigned else "")
        owner = owner or str(record.get("ownerId") or record.get("assigneeId") or "")
        values: dict[str, Any] = {"contact_id": contact_id, "subject": subject, "body": body, "owner_id": owner}
        values["due_in_hours"] = action.due_in_hours
        return Planned(action.type, f"create the task {subject!r} on contact {contact_id}", values)
    if action.type == SEND_EMAIL:
        to = render(action.to, context, part="to").strip() if action.to else str(record.get("email", ""))
        if not to:
            raise ActionFailed(f"the {resource} has no email address to send to")
        subject = " ".join(render(action.subject, context, part="subject").split())
        text = render(action.text_body, context, part="text_body")
        html = render(action.html_body, context, html=True, part="html_body")
        addresses = [a.strip() for a in to.split(",") if a.strip()]
        email: dict[str, Any] = {"to": addresses, "subject": subject, "text": text}
        email |= {"html": html, "connection_id": action.connection_id}
        return Planned(action.type, f"email {to} with the subject {subject!r}", email)
    if action.type == UPDATE_FIELD:
        value = render(action.value, context, part="value").strip()
        return Planned(
            action.type,
            f"set {resource} {subject_id}'s {action.field} to {value!r}",
            {"field": action.field, "value": value},
        )
    payload = {"ruleId": rule.id, "ruleName": rule.data.display_name, "event": {"type": event_type, "data": dict(data)}}
    return Planned(
        action.type,
        f"post the event to webhook subscription {action.webhook_id}",
        {"webhook_id": action.webhook_id} | {"data": json.loads(json.dumps(payload))},
    )


# --- the execution log ---


def finished(execution: Execution, results: Sequence[ActionResult], now: dt.datetime) -> Execution:
    failed = [r for r in results if r.outcome == FAILED]
    reason = f"{failed[0].type}: {failed[0].error}" if failed else ""
    state = FAILED if failed else SUCCEEDED
    return replace(
        execution, state=state, reason=reason, actions=tuple(results), next_attempt_time=None, finish_time=now
    )


def backoff(attempt: int, jitter: float | None = None) -> dt.timedelta:
    """The wait after attempt number `attempt` (1-based) when a service did not answer."""
    spread = random.random() if jitter is None else jitter
    return dt.timedelta(seconds=min(2.0 * 3 ** (attempt - 1), MAX_BACKOFF_SECONDS) * (0.8 + 0.4 * spread))
