"""Lead scoring: attribute points from rules, engagement points that decay, threshold crossings.

Engagement is kept as one number and the time it was last brought up to date: with a half-life h,
points p received at time t are worth p * 2^(-(now - t) / h) now, and a sum of such terms decays
as a whole, so adding an event is "decay the stored value to the event's time, add its points".
The score at any moment is exact from those two numbers; reads compute it with the clock, and a
worker refreshes the stored copy (for filters) and notices scores that decay below the threshold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from crmkit.errors import Validator
from services.sales.domain.leads import MAX_NAME, LeadFields, check_rule_attribute

# What each marketing engagement event is called in the settings and in history.
ENGAGEMENT_KINDS = ("email_opened", "email_clicked", "form_submitted")
MAX_POINTS = 1000


@dataclass(frozen=True)
class ScoringRule:
    id: str
    tenant_id: str
    attribute: str
    value: str
    points: int
    create_time: dt.datetime


@dataclass(frozen=True)
class ScoringSettings:
    email_opened_points: int = 1
    email_clicked_points: int = 5
    form_submitted_points: int = 10
    half_life_days: int = 30
    threshold: int = 50

    def points_for(self, kind: str) -> int:
        return int(getattr(self, f"{kind}_points"))


def validate_rule(rule: ScoringRule) -> ScoringRule:
    check = Validator()
    attribute = rule.attribute.strip()
    check_rule_attribute(check, "attribute", attribute)
    value = check.text("value", rule.value, MAX_NAME)
    if not value:
        check.add("value", "is required")
    if not -MAX_POINTS <= rule.points <= MAX_POINTS:
        check.add("points", f"must be between -{MAX_POINTS} and {MAX_POINTS}")
    check.raise_if_any()
    return ScoringRule(rule.id, rule.tenant_id, attribute, value, rule.points, rule.create_time)


def validate_settings(settings: ScoringSettings) -> ScoringSettings:
    check = Validator()
    for kind in ENGAGEMENT_KINDS:
        if not 0 <= settings.points_for(kind) <= MAX_POINTS:
            check.add(f"{kind}_points", f"must be between 0 and {MAX_POINTS}")
    if not 1 <= settings.half_life_days <= 3650:
        check.add("half_life_days", "must be between 1 and 3650")
    if not 1 <= settings.threshold <= 100_000:
        check.add("threshold", "must be between 1 and 100000")
    check.raise_if_any()
    return settings


def attribute_points(rules: Sequence[ScoringRule], lead: LeadFields) -> tuple[int, list[str]]:
    """The points the lead's attributes earn, and which rules gave them (in words)."""
    total, reasons = 0, []
    for rule in rules:
        if lead.attribute(rule.attribute) == rule.value.strip().lower():
            total += rule.points
            reasons.append(f"{rule.attribute} = {rule.value} {rule.points:+d}")
    return total, reasons


@dataclass(frozen=True)
class Engagement:
    """Decayed engagement points as of `as_of` (None: no engagement yet)."""

    value: float = 0.0
    as_of: dt.datetime | None = None

    def at(self, when: dt.datetime, half_life_days: int) -> float:
        if self.as_of is None or self.value == 0:
            return 0.0
        return self.value * _decay(when - self.as_of, half_life_days)

    def plus(self, points: int, when: dt.datetime, half_life_days: int) -> Engagement:
        """With `points` earned at `when`; an event older than the stored time counts decayed."""
        if self.as_of is None:
            return Engagement(float(points), when)
        if when >= self.as_of:
            return Engagement(self.at(when, half_life_days) + points, when)
        return Engagement(self.value + points * _decay(self.as_of - when, half_life_days), self.as_of)


def score(attribute_total: int, engagement: Engagement, now: dt.datetime, half_life_days: int) -> int:
    return attribute_total + math.floor(engagement.at(now, half_life_days) + 0.5)


@dataclass(frozen=True)
class Crossing:
    upward: bool
    previous_score: int
    threshold: int


def crossing(was_above: bool, previous_score: int, new_score: int, threshold: int) -> Crossing | None:
    """A crossing when the score's side of the threshold changed (at or above it counts as above).

    The side is stored with the lead, so each crossing is reported once whatever path (an event,
    an edit, the decay worker) notices it, and a redelivered event that changes nothing reports none.
    """
    above = new_score >= threshold
    if above == was_above:
        return None
    return Crossing(above, previous_score, threshold)


def _decay(elapsed: dt.timedelta, half_life_days: int) -> float:
    days = max(elapsed.total_seconds(), 0.0) / 86400
    return float(0.5 ** (days / half_life_days))
