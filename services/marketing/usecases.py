"""Marketing use cases: each one transaction of domain rules and store."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Validator
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from services.marketing import sequences, store
from services.marketing.domain import AudienceMember, templating
from services.marketing.domain import consent as consent_rules
from services.marketing.domain import segments as segment_rules
from services.marketing.domain.consent import ConsentRequest, Subscription
from services.marketing.store import SegmentRow, Suppressed, TemplateRow

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)
DYNAMIC, STATIC = "DYNAMIC", "STATIC"
REBUILD_CHUNK = 500
MAX_MEMBER_CHANGE = 1000


def live_member(session: Session, tenant_id: str, contact_id: str) -> AudienceMember:
    member = store.get(session, tenant_id, contact_id)
    if member is None or member.deleted:
        raise NotFound.resource("audience member", contact_id)
    return member


# --- segment membership (incremental and full) ------------------------------------------------


def refresh_contact(session: Session, tenant_id: str, contact_id: str, now: dt.datetime) -> None:
    """Re-evaluate one contact against every dynamic segment of its tenant, in the caller's
    transaction (contact and engagement events call this). A deleted contact leaves every segment,
    static ones included."""
    member = store.get(session, tenant_id, contact_id)
    if member is None or member.deleted:
        store.remove_from_all(session, tenant_id, contact_id)
        return
    segments = [(row.id, segment_rules.parse(row.rules)) for row in store.dynamic_segments(session, tenant_id)]
    if not segments:
        return
    window = segment_rules.engagement_window([rule for _, rule in segments])
    engaged = store.engagements(session, tenant_id, contact_id, now - dt.timedelta(days=window)) if window else []
    current = store.segment_ids_of(session, tenant_id, contact_id)
    for segment_id, rule in segments:
        belongs = segment_rules.matches(rule, member, engaged, now)
        if belongs and segment_id not in current:
            store.add_members(session, tenant_id, segment_id, [contact_id])
            sequences.enrol_on_entry(session, tenant_id, segment_id, [contact_id], now)
        elif not belongs and segment_id in current:
            store.remove_members(session, tenant_id, segment_id, [contact_id])


def rebuild(session: Session, tenant_id: str, segment_id: str, rule: segment_rules.Rule, now: dt.datetime) -> None:
    """The segment's membership recomputed from the whole audience, a chunk at a time; those who
    were not members before have entered it."""
    before = store.segment_member_ids(session, tenant_id, segment_id)
    store.remove_members(session, tenant_id, segment_id, None)
    window = segment_rules.engagement_window([rule])
    after: str | None = None
    while True:
        chunk = store.all_members(session, tenant_id, after, REBUILD_CHUNK)
        if not chunk:
            return
        ids = [m.contact_id for m in chunk]
        engaged = store.engagements_for(session, tenant_id, ids, now - dt.timedelta(days=window)) if window else {}
        matching = [m.contact_id for m in chunk if segment_rules.matches(rule, m, engaged.get(m.contact_id, []), now)]
        if matching:
            store.add_members(session, tenant_id, segment_id, matching)
            entered = [c for c in matching if c not in before]
            sequences.enrol_on_entry(session, tenant_id, segment_id, entered, now)
        after = ids[-1]


class EngagementExpiry:
    """Keeps time-window segments right as time passes: a contact whose engagement just aged out
    of a dynamic segment's window ("clicked in the last 30 days") is re-evaluated, without an event
    about it. Each tick looks at engagements that crossed a window edge since the last tick (a
    watermark row, locked so one replica does the work; nothing is missed after a downtime)."""

    NAME = "segment-engagement-expiry"

    def __init__(self, database: Database, clock: Clock = utcnow, poll_seconds: float = 300.0) -> None:
        self.database = database
        self.clock = clock
        self.poll_seconds = poll_seconds

    def run(self, stop: threading.Event) -> None:
        every(self.poll_seconds, self.tick, "segment engagement expiry tick")(stop)

    def tick(self, now: dt.datetime | None = None) -> int:
        """Re-evaluate the contacts whose engagement aged out of a window since the last tick; how many."""
        now = now or self.clock()
        with self.database.transaction() as session:
            mark = store.lock_watermark(session, self.NAME)
            if mark is None:
                return 0
            since = mark.time or now  # the first tick starts the clock (rebuilds covered the past)
            refreshed = 0
            for tenant_id, trees in store.dynamic_rules_by_tenant(session).items():
                windows = {segment_rules.engagement_window([segment_rules.parse(t)]) for t in trees} - {0}
                contacts: set[str] = set()
                for days in windows:
                    edge = dt.timedelta(days=days)
                    contacts.update(store.contacts_engaged_between(session, tenant_id, since - edge, now - edge))
                for contact_id in sorted(contacts):
                    refresh_contact(session, tenant_id, contact_id, now)
                refreshed += len(contacts)
            mark.time = now
            return refreshed


# --- consent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionsView:
    current: list[Subscription]
    history: list[Subscription]


class Consent:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def of_contact(self, tenant_id: str, contact_id: str) -> SubscriptionsView:
        with self.database.transaction() as session:
            live_member(session, tenant_id, contact_id)
            current = list(store.subscriptions(session, tenant_id, contact_id).values())
            return SubscriptionsView(current, store.subscription_history(session, tenant_id, contact_id))

    def update(self, tenant_id: str, contact_id: str, request: ConsentRequest) -> Subscription:
        request = consent_rules.validate_request(request)
        with self.database.transaction() as session:
            live_member(session, tenant_id, contact_id)
            current = store.subscriptions(session, tenant_id, contact_id, for_update=True).get(request.channel)
            updated = consent_rules.change(current, request, tenant_id, contact_id, self.clock())
            if updated is None:
                assert current is not None
                return current
            store.put_subscription(session, updated, new_id())
            if updated.status == consent_rules.UNSUBSCRIBED:
                sequences.exit_on_unsubscribe(session, tenant_id, contact_id, updated.channel, updated.update_time)
            return updated

    def suppressions(self, tenant_id: str, token: str, requested: int) -> tuple[list[Suppressed], str]:
        size = page_size(requested)
        after = decode_cursor(token, "suppressions")
        with self.database.transaction() as session:
            found = store.suppressions_page(session, tenant_id, after, size + 1)
        return page_of(found, size, lambda s: s.email, "suppressions")


def record_unsubscribe(session: Session, tenant_id: str, contact_id: str, channel: str, now: dt.datetime) -> None:
    """An unsubscribe from a message's link: final, whatever the basis was."""
    current = store.subscriptions(session, tenant_id, contact_id, for_update=True).get(channel)
    basis = current.legal_basis if current else "CONSENT"
    request = ConsentRequest(channel, consent_rules.UNSUBSCRIBED, basis, "unsubscribe link", False)
    updated = consent_rules.change(current, request, tenant_id, contact_id, now)
    if updated is not None:
        store.put_subscription(session, updated, new_id())
    sequences.exit_on_unsubscribe(session, tenant_id, contact_id, channel, now)


# --- segments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentView:
    row: SegmentRow
    member_count: int


@dataclass(frozen=True)
class SegmentFields:
    name: str
    kind: str
    rules: dict[str, Any]


def _checked_segment(fields: SegmentFields) -> SegmentFields:
    check = Validator()
    name = check.text("name", fields.name, 200)
    if not name:
        check.add("name", "is required")
    kind = fields.kind or DYNAMIC
    if kind not in (DYNAMIC, STATIC):
        check.add("kind", "must be DYNAMIC or STATIC")
    if kind == STATIC and fields.rules:
        check.add("rules", "a STATIC segment has no rules")
    if kind == DYNAMIC and not fields.rules:
        check.add("rules", "a DYNAMIC segment needs a rule tree")
    check.raise_if_any()
    if kind == DYNAMIC:
        segment_rules.parse(fields.rules)
    return SegmentFields(name, kind, fields.rules)


class Segments:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, tenant_id: str, fields: SegmentFields) -> SegmentView:
        fields = _checked_segment(fields)
        now = self.clock()
        with self.database.transaction() as session:
            row = SegmentRow(
                tenant_id=tenant_id,
                id=new_id(),
                name=fields.name,
                kind=fields.kind,
                rules=fields.rules,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            session.flush()
            if fields.kind == DYNAMIC:
                rebuild(session, tenant_id, row.id, segment_rules.parse(fields.rules), now)
            return self._view(session, row)

    def get(self, tenant_id: str, segment_id: str) -> SegmentView:
        with self.database.transaction() as session:
            return self._view(session, self._row(session, tenant_id, segment_id))

    def page(self, tenant_id: str, token: str, requested: int) -> tuple[list[SegmentView], str]:
        size = page_size(requested)
        after = decode_cursor(token, "segments")
        with self.database.transaction() as session:
            rows = store.segments_page(session, tenant_id, after, size + 1)
            page, next_token = page_of(rows, size, lambda r: r.id, "segments")
            counts = store.member_counts(session, tenant_id, [r.id for r in page])
            return [SegmentView(r, counts.get(r.id, 0)) for r in page], next_token

    def update(self, tenant_id: str, segment_id: str, patch: SegmentFields, mask: Sequence[str]) -> SegmentView:
        paths = list(mask) or [name for name in ("name", "rules") if getattr(patch, name)]
        unknown = [p for p in paths if p not in ("name", "rules")]
        if unknown:
            raise InvalidArgument.of([FieldViolation("update_mask", f"unknown or read-only field {unknown[0]!r}")])
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, segment_id, for_update=True)
            merged = SegmentFields(
                patch.name if "name" in paths else row.name,
                row.kind,
                patch.rules if "rules" in paths else row.rules,
            )
            merged = _checked_segment(merged)
            now = self.clock()
            rules_changed = merged.rules != row.rules
            row.name, row.rules, row.update_time = merged.name, merged.rules, now
            if rules_changed and row.kind == DYNAMIC:
                rebuild(session, tenant_id, row.id, segment_rules.parse(merged.rules), now)
            return self._view(session, row)

    def delete(self, tenant_id: str, segment_id: str) -> None:
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, segment_id, for_update=True)
            store.remove_members(session, tenant_id, segment_id, None)
            session.delete(row)

    def members(self, tenant_id: str, segment_id: str, token: str, requested: int) -> tuple[list[AudienceMember], str]:
        size = page_size(requested)
        scope = f"segmentMembers:{segment_id}"
        after = decode_cursor(token, scope)
        with self.database.transaction() as session:
            self._row(session, tenant_id, segment_id)
            found = store.segment_members_page(session, tenant_id, segment_id, after, size + 1)
        return page_of(found, size, lambda m: m.contact_id, scope)

    def change_members(self, tenant_id: str, segment_id: str, contact_ids: Sequence[str], add: bool) -> SegmentView:
        check = Validator()
        ids = check.labels("contactIds", contact_ids, limit=MAX_MEMBER_CHANGE, max_length=26, allow_slash=False)
        if not ids:
            check.add("contactIds", "at least one contact id")
        check.raise_if_any()
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, segment_id, for_update=True)
            if row.kind != STATIC:
                raise FailedPrecondition("members of a DYNAMIC segment follow its rules; only STATIC ones are edited")
            if add:
                live = {m.contact_id for m in store.members_of(session, tenant_id, list(ids)) if not m.deleted}
                missing = [c for c in ids if c not in live]
                if missing:
                    raise InvalidArgument.of(
                        [FieldViolation("contactIds", f"unknown contacts: {', '.join(missing[:10])}")]
                    )
                entered = store.add_members(session, tenant_id, segment_id, list(ids))
                sequences.enrol_on_entry(session, tenant_id, segment_id, entered, self.clock())
            else:
                store.remove_members(session, tenant_id, segment_id, list(ids))
            return self._view(session, row)

    @staticmethod
    def _row(session: Session, tenant_id: str, segment_id: str, *, for_update: bool = False) -> SegmentRow:
        row = store.get_segment(session, tenant_id, segment_id, for_update=for_update)
        if row is None:
            raise NotFound.resource("segment", segment_id)
        return row

    @staticmethod
    def _view(session: Session, row: SegmentRow) -> SegmentView:
        session.flush()
        return SegmentView(row, store.member_counts(session, row.tenant_id, [row.id]).get(row.id, 0))


# --- templates --------------------------------------------------------------------------------


PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview"


class Templates:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, tenant_id: str, name: str, parts: templating.TemplateParts) -> TemplateRow:
        check = Validator()
        name = check.text("name", name, 200)
        if not name:
            check.add("name", "is required")
        try:
            parts = templating.validate(parts)
        except InvalidArgument as exc:
            check.violations.extend(exc.violations)
        check.raise_if_any()
        with self.database.transaction() as session:
            row = TemplateRow(
                tenant_id=tenant_id,
                id=new_id(),
                name=name,
                subject=parts.subject,
                html_body=parts.html_body,
                text_body=parts.text_body,
                create_time=self.clock(),
            )
            session.add(row)
            return row

    def get(self, tenant_id: str, template_id: str) -> TemplateRow:
        with self.database.transaction() as session:
            return self._row(session, tenant_id, template_id)

    def page(self, tenant_id: str, token: str, requested: int) -> tuple[list[TemplateRow], str]:
        size = page_size(requested)
        after = decode_cursor(token, "templates")
        with self.database.transaction() as session:
            rows = store.templates_page(session, tenant_id, after, size + 1)
        return page_of(rows, size, lambda r: r.id, "templates")

    def preview(
        self, tenant_id: str, template_id: str, contact_id: str
    ) -> templating.Rendered | templating.RenderError:
        if not contact_id.strip():
            raise InvalidArgument.of([FieldViolation("contactId", "is required")])
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, template_id)
            member = live_member(session, tenant_id, contact_id)
        parts = templating.TemplateParts(row.subject, row.html_body, row.text_body)
        # A send gives `unsubscribeUrl` the recipient's signed one-click link (docs/adr/0053).
        context = {"contact": templating.contact_context(member), "unsubscribeUrl": PREVIEW_UNSUBSCRIBE_URL}
        return templating.render(parts, context)

    @staticmethod
    def _row(session: Session, tenant_id: str, template_id: str) -> TemplateRow:
        row = store.get_template(session, tenant_id, template_id)
        if row is None:
            raise NotFound.resource("template", template_id)
        session.expunge(row)
        return row
