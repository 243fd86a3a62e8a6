"""Support metrics: pure aggregation of ticket facts and survey answers over a period."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from crmkit.errors import Validator
from services.support.domain.tickets import ACTIVE_STATUSES

MAX_PERIOD = dt.timedelta(days=366)
GROUP_BYS = ("", "AGENT", "GROUP")
FIRST_RESPONSE, RESOLUTION = "FIRST_RESPONSE", "RESOLUTION"
_STATUS_MESSAGE = re.compile(r"status (\w+) -> (\w+)")


@dataclass(frozen=True)
class TicketFacts:
    """What metrics need of one ticket."""

    ticket_id: str
    agent_id: str
    group_id: str
    create_time: dt.datetime
    first_response_time: dt.datetime | None
    solve_time: dt.datetime | None
    reopen_count: int
    # Whether an SLA policy applied, and the targets whose breach was recorded.
    has_sla: bool
    breached: frozenset[str]
    # The status at the end of the period (from the history), for tickets created before it.
    status_at_end: str


@dataclass(frozen=True)
class SurveyAnswer:
    kind: str  # CSAT or NPS
    agent_id: str
    group_id: str
    score: int
    response_time: dt.datetime


@dataclass
class Row:
    key: str = ""
    tickets_created: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    sla_targets: int = 0
    sla_targets_met: int = 0
    backlog: int = 0
    solved_tickets: int = 0
    reopened_tickets: int = 0
    csat: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)

    @property
    def first_response_average(self) -> float | None:
        return _mean(self.first_response)

    @property
    def first_response_median(self) -> float | None:
        return statistics.median(self.first_response) if self.first_response else None

    @property
    def resolution_average(self) -> float | None:
        return _mean(self.resolution)

    @property
    def resolution_median(self) -> float | None:
        return statistics.median(self.resolution) if self.resolution else None

    @property
    def sla_compliance(self) -> float:
        return self.sla_targets_met / self.sla_targets if self.sla_targets else 0.0

    @property
    def reopen_rate(self) -> float:
        return self.reopened_tickets / self.solved_tickets if self.solved_tickets else 0.0

    @property
    def csat_average(self) -> float:
        return _mean(self.csat) or 0.0

    @property
    def csat_satisfied_rate(self) -> float:
        return sum(1 for s in self.csat if s >= 4) / len(self.csat) if self.csat else 0.0

    @property
    def nps_score(self) -> float:
        if not self.nps:
            return 0.0
        promoters = sum(1 for s in self.nps if s >= 9)
        detractors = sum(1 for s in self.nps if s <= 6)
        return 100.0 * (promoters - detractors) / len(self.nps)


@dataclass(frozen=True)
class Report:
    overall: Row
    rows: list[Row]


def validate_period(start: dt.datetime | None, end: dt.datetime | None, group_by: str) -> None:
    check = Validator()
    if start is None:
        check.add("start_time", "is required")
    if end is None:
        check.add("end_time", "is required")
    if start is not None and end is not None:
        if end <= start:
            check.add("end_time", "must be after start_time")
        elif end - start > MAX_PERIOD:
            check.add("end_time", "the period must be at most 366 days")
    if group_by not in GROUP_BYS:
        check.add("group_by", "must be AGENT or GROUP")
    check.raise_if_any()


def status_at(current: str, changes: Sequence[tuple[dt.datetime, str]], end: dt.datetime) -> str:
    """A ticket's status at `end`, from its current status and its 'status' history entries
    (time, "status OPEN -> SOLVED"), oldest first: the last change before `end`, else the status
    the first change started from, else (never changed) the current one."""
    moves = [(time, m.groups()) for time, text in changes if (m := _STATUS_MESSAGE.match(text))]
    before = [to for time, (_, to) in moves if time < end]
    if before:
        return before[-1]
    return moves[0][1][0] if moves else current


def aggregate(
    tickets: Iterable[TicketFacts],
    answers: Iterable[SurveyAnswer],
    start: dt.datetime,
    end: dt.datetime,
    group_by: str = "",
) -> Report:
    """Overall and per-key figures: ticket figures for the tickets created in [start, end),
    backlog at `end`, survey figures for answers given in [start, end)."""
    overall = Row()
    rows: dict[str, Row] = {}

    def targets(key: str) -> Sequence[Row]:
        if not group_by:
            return (overall,)
        if key not in rows:
            rows[key] = Row(key=key)
        return (overall, rows[key])

    key_of: Callable[[str, str], str] = lambda agent, group: agent if group_by == "AGENT" else group  # noqa: E731
    for ticket in tickets:
        if ticket.create_time >= end:
            continue
        for row in targets(key_of(ticket.agent_id, ticket.group_id)):
            if ticket.status_at_end in ACTIVE_STATUSES:
                row.backlog += 1
            if ticket.create_time >= start:
                _add_created(row, ticket)
    for answer in answers:
        if not start <= answer.response_time < end:
            continue
        for row in targets(key_of(answer.agent_id, answer.group_id)):
            (row.csat if answer.kind == "CSAT" else row.nps).append(answer.score)
    return Report(overall, [rows[k] for k in sorted(rows)])


def _add_created(row: Row, ticket: TicketFacts) -> None:
    row.tickets_created += 1
    if ticket.first_response_time is not None:
        row.first_response.append((ticket.first_response_time - ticket.create_time).total_seconds())
    if ticket.solve_time is not None:
        row.resolution.append((ticket.solve_time - ticket.create_time).total_seconds())
        row.solved_tickets += 1
        if ticket.reopen_count > 0:
            row.reopened_tickets += 1
    if ticket.has_sla:
        for target, done in (
            (FIRST_RESPONSE, ticket.first_response_time is not None),
            (RESOLUTION, ticket.solve_time is not None),
        ):
            missed = target in ticket.breached
            if done or missed:
                row.sla_targets += 1
                row.sla_targets_met += 0 if missed else 1


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
