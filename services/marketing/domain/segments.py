"""Segment rule trees: parsing with field-named errors, and evaluation against one contact.

Pure Python, no I/O. A rule is JSON:
    {"all": [rule, ...]}   {"any": [rule, ...]}   {"not": rule}
    {"field": "lifecycleStage", "operator": "equals", "value": "LEAD"}
    {"field": "customFields.plan", "operator": "in", "value": ["pro", "team"]}
    {"engagement": "clicked", "withinDays": 30}            # any campaign
    {"engagement": "opened", "campaignId": "C1", "withinDays": 7}
A sequence's condition step may also name one of its earlier email steps (`parse(..., steps=...)`):
    {"engagement": "opened", "step": 1}                    # that step's message; withinDays optional
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmkit.errors import Validator
from services.marketing.domain import AudienceMember

ATTRIBUTES = ("email", "givenName", "familyName", "lifecycleStage", "tags", "phone")
CUSTOM_PREFIX = "customFields."
OPERATORS = ("equals", "notEquals", "contains", "startsWith", "in", "exists", "notExists", "gt", "lt")
# Engagement kinds as the engagement log stores them (one per marketing event).
ENGAGEMENTS = ("sent", "opened", "clicked", "bounced", "complained", "unsubscribed", "formSubmitted")
MAX_DEPTH = 6
MAX_NODES = 100
MAX_WITHIN_DAYS = 3650


@dataclass(frozen=True)
class All:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    rule: Rule


@dataclass(frozen=True)
class FieldCondition:
    field: str
    operator: str
    value: Any


@dataclass(frozen=True)
class EngagementCondition:
    kind: str
    within_days: int  # 0: any time (only with a step)
    campaign_id: str = ""
    # A sequence's email step (1-based) whose message the engagement must be about; 0: any message.
    step: int = 0


Rule = All | AnyOf | Not | FieldCondition | EngagementCondition


@dataclass(frozen=True)
class Engagement:
    """One line of the engagement log, as rules see it."""

    kind: str
    campaign_id: str
    occur_time: dt.datetime
    message_id: str = ""


def parse(tree: Any, path: str = "rules", *, steps: Collection[int] | None = None) -> Rule:
    """The rule tree as typed nodes; every problem is reported at once, named by its path
    (`rules.all[2].field`). `steps`: the email steps an engagement condition may name (a sequence's
    condition step); None where rules are not about a sequence (segments)."""
    check = Validator()
    counter = [0]
    rule = _parse(tree, path, check, 0, counter, steps)
    if counter[0] > MAX_NODES:
        check.add(path, f"at most {MAX_NODES} rules in one tree")
    check.raise_if_any()
    assert rule is not None
    return rule


def _parse(
    node: Any, path: str, check: Validator, depth: int, counter: list[int], steps: Collection[int] | None
) -> Rule | None:
    counter[0] += 1
    if depth > MAX_DEPTH:
        check.add(path, f"nested deeper than {MAX_DEPTH} levels")
        return None
    if not isinstance(node, dict):
        check.add(path, "must be an object (all, any, not, a field condition or an engagement condition)")
        return None
    keys = set(node)
    for group, make in (("all", All), ("any", AnyOf)):
        if group in keys:
            if keys != {group}:
                check.add(path, f"a {group!r} rule has no other keys")
            items = node[group]
            if not isinstance(items, list) or not items:
                check.add(f"{path}.{group}", "must be a non-empty list of rules")
                return None
            parsed = [
                _parse(item, f"{path}.{group}[{i}]", check, depth + 1, counter, steps) for i, item in enumerate(items)
            ]
            return make(tuple(r for r in parsed if r is not None))
    if "not" in keys:
        if keys != {"not"}:
            check.add(path, "a 'not' rule has no other keys")
        inner = _parse(node["not"], f"{path}.not", check, depth + 1, counter, steps)
        return None if inner is None else Not(inner)
    if "engagement" in keys:
        return _engagement(node, path, check, steps)
    if "field" in keys:
        return _condition(node, path, check)
    check.add(path, "must have one of: all, any, not, field, engagement")
    return None


def _condition(node: dict[str, Any], path: str, check: Validator) -> FieldCondition | None:
    unknown = set(node) - {"field", "operator", "value"}
    if unknown:
        check.add(path, f"unknown keys: {', '.join(sorted(unknown))}")
    name, operator, value = node.get("field"), node.get("operator"), node.get("value")
    ok = True
    if not isinstance(name, str) or not (
        name in ATTRIBUTES or (name.startswith(CUSTOM_PREFIX) and 0 < len(name) - len(CUSTOM_PREFIX) <= 64)
    ):
        check.add(f"{path}.field", f"must be one of {', '.join(ATTRIBUTES)} or customFields.<key>")
        ok = False
    if operator not in OPERATORS:
        check.add(f"{path}.operator", f"must be one of {', '.join(OPERATORS)}")
        return None
    if operator in ("exists", "notExists"):
        if value is not None:
            check.add(f"{path}.value", f"{operator} takes no value")
            ok = False
    elif operator == "in":
        if not isinstance(value, list) or not value or not all(_scalar(v) for v in value):
            check.add(f"{path}.value", "must be a non-empty list of strings, numbers or booleans")
            ok = False
    elif operator in ("gt", "lt"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            check.add(f"{path}.value", "must be a number or a string")
            ok = False
    elif operator in ("contains", "startsWith"):
        if not isinstance(value, str) or not value:
            check.add(f"{path}.value", "must be a non-empty string")
            ok = False
    elif not _scalar(value):
        check.add(f"{path}.value", "must be a string, number or boolean")
        ok = False
    return FieldCondition(name, operator, value) if ok else None  # type: ignore[arg-type]


def _engagement(
    node: dict[str, Any], path: str, check: Validator, steps: Collection[int] | None
) -> EngagementCondition | None:
    allowed = {"engagement", "withinDays", "campaignId"} | ({"step"} if steps is not None else set())
    unknown = set(node) - allowed
    if unknown:
        check.add(path, f"unknown keys: {', '.join(sorted(unknown))}")
    kind, days, campaign = node.get("engagement"), node.get("withinDays"), node.get("campaignId", "")
    step = _whole(node.get("step", 0)) if steps is not None else 0
    ok = True
    if kind not in ENGAGEMENTS:
        check.add(f"{path}.engagement", f"must be one of {', '.join(ENGAGEMENTS)}")
        ok = False
    if steps is not None and step != 0 and (isinstance(step, bool) or not isinstance(step, int) or step not in steps):
        check.add(f"{path}.step", "must be the number of an earlier email step of this sequence")
        ok = False
    days = _whole(days)  # JSON numbers arrive as floats through a Struct
    if step and days is None:
        days = 0  # a step's message: any time since it was sent
    elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WITHIN_DAYS:
        check.add(f"{path}.withinDays", f"must be a whole number of days from 1 to {MAX_WITHIN_DAYS}")
        ok = False
    if not isinstance(campaign, str) or len(campaign) > 64:
        check.add(f"{path}.campaignId", "must be a campaign id")
        ok = False
    return EngagementCondition(kind, days, campaign, step) if ok else None  # type: ignore[arg-type]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def uses_engagement(rule: Rule) -> bool:
    if isinstance(rule, EngagementCondition):
        return True
    if isinstance(rule, All | AnyOf):
        return any(uses_engagement(r) for r in rule.rules)
    if isinstance(rule, Not):
        return uses_engagement(rule.rule)
    return False


def matches(
    rule: Rule,
    member: AudienceMember,
    engagements: Sequence[Engagement],
    now: dt.datetime,
    step_messages: Mapping[int, str] | None = None,
) -> bool:
    """Whether the contact belongs to the segment (or passes a sequence's condition: then
    `step_messages` maps the email steps run so far to their message ids). A deleted contact
    belongs to none."""
    if member.deleted:
        return False
    return _matches(rule, member, engagements, now, step_messages or {})


def _matches(
    rule: Rule, member: AudienceMember, engagements: Sequence[Engagement], now: dt.datetime, steps: Mapping[int, str]
) -> bool:
    if isinstance(rule, All):
        return all(_matches(r, member, engagements, now, steps) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return any(_matches(r, member, engagements, now, steps) for r in rule.rules)
    if isinstance(rule, Not):
        return not _matches(rule.rule, member, engagements, now, steps)
    if isinstance(rule, EngagementCondition):
        since = now - dt.timedelta(days=rule.within_days) if rule.within_days else None
        message = steps.get(rule.step, "") if rule.step else None
        if message == "":
            return False  # the step sent nothing to engage with
        return any(
            e.kind == rule.kind
            and (since is None or e.occur_time >= since)
            and (not rule.campaign_id or e.campaign_id == rule.campaign_id)
            and (message is None or e.message_id == message)
            for e in engagements
        )
    return _field(rule, _value_of(member, rule.field))


def _value_of(member: AudienceMember, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return member.custom_fields.get(name[len(CUSTOM_PREFIX) :])
    return {
        "email": member.email,
        "givenName": member.given_name,
        "familyName": member.family_name,
        "lifecycleStage": member.lifecycle_stage,
        "tags": list(member.tags),
        "phone": member.phone,
    }[name]


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _field(condition: FieldCondition, actual: Any) -> bool:
    op, expected = condition.operator, condition.value
    if op == "exists":
        return _present(actual)
    if op == "notExists":
        return not _present(actual)
    if isinstance(actual, list):  # tags, multi-select custom fields: any element satisfies
        if op == "notEquals":
            return all(not _equal(a, expected) for a in actual)
        if op == "contains":
            return any(_equal(a, expected) for a in actual)
        return any(_field(FieldCondition(condition.field, op, expected), a) for a in actual)
    if op == "equals":
        return _equal(actual, expected)
    if op == "notEquals":
        return not _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, e) for e in expected)
    if op == "contains":
        return isinstance(actual, str) and expected.casefold() in actual.casefold()
    if op == "startsWith":
        return isinstance(actual, str) and actual.casefold().startswith(expected.casefold())
    if op in ("gt", "lt"):
        return _compare(actual, expected, op)
    return False


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return bool(actual == expected)


def _compare(actual: Any, expected: Any, op: str) -> bool:
    numbers = (int, float)
    if isinstance(actual, numbers) and isinstance(expected, numbers) and not isinstance(actual, bool):
        return actual > expected if op == "gt" else actual < expected
    if isinstance(actual, str) and isinstance(expected, str):  # ISO dates compare as text
        return actual > expected if op == "gt" else actual < expected
    return False


def engagement_window(rules: Sequence[Rule]) -> int:
    """The most days back any of these rules looks at the engagement log (0: none does)."""
    days = 0
    stack = list(rules)
    while stack:
        rule = stack.pop()
        if isinstance(rule, EngagementCondition):
            days = max(days, rule.within_days)
        elif isinstance(rule, All | AnyOf):
            stack.extend(rule.rules)
        elif isinstance(rule, Not):
            stack.append(rule.rule)
    return days
