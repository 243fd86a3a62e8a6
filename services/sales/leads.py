"""Lead use cases: each one transaction of domain rules, store and outbox (issue #4).

Leads (CRUD, lifecycle, history, conversion), web forms (public submissions), assignment rules,
scoring rules and settings, the consumer of marketing's engagement events and the decay worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from crm.events.v1.envelope_pb2 import Envelope
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.sales.v1 import events_pb2
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import MULTI_LINE_CONTROL, FieldViolation, InvalidArgument, NotFound, Validator
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, encode_cursor, keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal
from crmkit.updates import apply_mask
from services.sales import lead_store as store
from services.sales.contacts_client import ContactsDirectory
from services.sales.domain import assignment, leads, scoring
from services.sales.domain.assignment import AssignmentRule
from services.sales.domain.leads import Conversion, HistoryEntry, Lead, LeadFields
from services.sales.domain.scoring import Engagement, ScoringRule, ScoringSettings
from services.sales.lead_messages import lead_snapshot
from services.sales.lead_store import ScoreState
from services.sales.store import INBOX

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
# What an opportunity step of a conversion calls: (principal, lead, contact_id, account_id, name) -> id.
# (caller, lead, contact id, account id, name, claim) -> the opportunity's id; `claim` runs in the
# opportunity's transaction: it answers an id already recorded, or records the new one.
OpenOpportunity = Callable[[Principal, Lead, str, str, str, Callable[[Session, str | None], str]], str]


def no_opportunities(
    principal: Principal, lead: Lead, contact_id: str, account_id: str, name: str, claim: Any = None
) -> str:
    """For a Leads built without the opportunities (unit tests): asking for one is refused."""
    raise InvalidArgument.of([FieldViolation("create_opportunity", "opportunities are not available here")])


@dataclass(frozen=True)
class LeadView:
    lead: Lead
    score: int
    history: tuple[HistoryEntry, ...] = ()


@dataclass(frozen=True)
class ConversionResult:
    view: LeadView
    contact_id: str
    account_id: str
    opportunity_id: str
    contact_reused: bool
    account_reused: bool


def _actor(principal: Principal) -> str:
    return principal.subject


class Scorer:
    """Scores a lead inside a transaction: history entries and events for what changed."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def apply(
        self,
        session: Session,
        lead: Lead,
        before: ScoreState,
        settings: ScoringSettings,
        now: dt.datetime,
        *,
        attribute_points: int | None = None,
        engagement: Engagement | None = None,
        message: str,
        actor: str,
        quiet: bool = False,
    ) -> tuple[ScoreState, int]:
        """`quiet`: no history entry for the change itself (decay), only for a crossing."""
        previous = scoring.score(before.attribute_points, before.engagement, now, settings.half_life_days)
        attribute_total = before.attribute_points if attribute_points is None else attribute_points
        engaged = before.engagement if engagement is None else engagement
        current = scoring.score(attribute_total, engaged, now, settings.half_life_days)
        crossing = scoring.crossing(before.above_threshold, previous, current, settings.threshold)
        above = before.above_threshold if crossing is None else crossing.upward
        state = ScoreState(attribute_total, engaged, current, above)
        entries = []
        if current != previous and not quiet:
            entries.append(HistoryEntry(now, "score", message, actor, current - previous, current))
        if crossing is not None:
            way = "reached" if crossing.upward else "fell below"
            entries.append(
                HistoryEntry(now, "score", f"score {way} the threshold {settings.threshold}", actor, 0, current)
            )
            event = events_pb2.LeadScoreThresholdCrossed(
                lead=lead_snapshot(lead, current),
                previous_score=previous,
                threshold=settings.threshold,
                upward=crossing.upward,
            )
            self.outbox.add(session, event, tenant_id=lead.tenant_id, subject=lead.id)
        store.add_history(session, lead.tenant_id, lead.id, entries)
        return state, current


class Leads:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        directory: ContactsDirectory | None = None,
        clock: Clock = utcnow,
        open_opportunity: OpenOpportunity = no_opportunities,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.directory = directory
        self.clock = clock
        self.open_opportunity = open_opportunity
        self.scorer = Scorer(outbox)

    # ---- create --------------------------------------------------------------------------------

    def create(self, principal: Principal, data: LeadFields) -> LeadView:
        if principal.own_records_only and not data.owner_id:  # what a rep creates is theirs
            data = replace(data, owner_id=principal.subject)
        now = self.clock()
        lead = leads.new_lead(new_id(), principal.tenant_id, data, now)
        with self.database.transaction() as session:
            return self._create(session, lead, _actor(principal), now)

    def create_in_tenant(self, session: Session, lead: Lead, actor: str) -> LeadView:
        """For a web form submission: the lead in the form's tenant, in the caller's transaction."""
        return self._create(session, lead, actor, lead.create_time)

    def _create(self, session: Session, lead: Lead, actor: str, now: dt.datetime) -> LeadView:
        tenant = lead.tenant_id
        history = [HistoryEntry(now, "created", f"created (source: {lead.data.source or 'unknown'})", actor)]
        if lead.data.owner_id:
            reason, assigned_by = f"assigned to {lead.data.owner_id} by {actor} on creation", actor
        else:
            decision = self._assign(session, tenant, lead.data)
            reason, assigned_by = decision.reason, "assignment rules"
            if decision.owner_id:
                lead = leads.assigned(lead, decision.owner_id, now)
        history.append(HistoryEntry(now, "assigned", reason, assigned_by))
        settings = store.scoring_settings(session, tenant)
        points, reasons = scoring.attribute_points(store.scoring_rules(session, tenant), lead.data)
        empty = ScoreState(0, Engagement(), 0, False)
        store.add_lead(session, lead, empty)
        created = events_pb2.LeadCreated(lead=lead_snapshot(lead, points))  # a new lead's score: its attributes'
        self.outbox.add(session, created, tenant_id=tenant, subject=lead.id)
        store.add_history(session, tenant, lead.id, history)
        state, score = self.scorer.apply(
            session,
            lead,
            empty,
            settings,
            now,
            attribute_points=points,
            message="attribute rules: " + ", ".join(reasons) if reasons else "attribute rules",
            actor="scoring rules",
        )
        store.save_score(session, tenant, lead.id, state)
        if lead.data.owner_id:
            event = events_pb2.LeadAssigned(lead=lead_snapshot(lead, score), previous_owner_id="", reason=reason)
            self.outbox.add(session, event, tenant_id=tenant, subject=lead.id)
        return LeadView(lead, score)

    def _assign(self, session: Session, tenant_id: str, data: LeadFields) -> assignment.Decision:
        rules = store.assignment_rules(session, tenant_id)
        matching = [r.id for r in rules if r.matches(data)]
        if not matching:
            return assignment.choose_owner([], data, {})
        # Lock the rules that may assign (in evaluation order, so writers never deadlock) and read
        # their cursors after the lock: two leads created at once take consecutive turns.
        locked = store.assignment_rules(session, tenant_id, ids=matching, for_update=True)
        owners = {owner for rule in locked for owner in rule.owner_ids}
        decision = assignment.choose_owner(locked, data, store.open_leads_per_owner(session, tenant_id, owners))
        if decision.rule_id is not None:
            store.move_cursor(session, tenant_id, decision.rule_id, decision.next_cursor)
        return decision

    # ---- read ----------------------------------------------------------------------------------

    def get(self, principal: Principal, lead_id: str) -> LeadView:
        with self.database.transaction() as session:
            found = self._visible(session, principal, lead_id)
            lead, state = found
            settings = store.scoring_settings(session, principal.tenant_id)
            entries = store.history(session, principal.tenant_id, lead_id)
        return LeadView(lead, self._score_now(state, settings), tuple(entries))

    def list(
        self, principal: Principal, requested_size: int, page_token: str, filter: str = "", order_by: str = ""
    ) -> tuple[list[LeadView], str]:
        size = page_size(requested_size)
        listing = store.Listing(filter, order_by, principal.subject if principal.own_records_only else None)
        scope = listing_scope("leads", filter, order_by)
        after = keyset_after(page_token, scope)
        with self.database.transaction() as session:
            try:
                found = store.page_leads(session, principal.tenant_id, listing, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
            settings = store.scoring_settings(session, principal.tenant_id)
        page, token = page_of(found, size, lambda item: item[2], scope)
        return [LeadView(lead, self._score_now(state, settings)) for lead, state, _ in page], token

    def _score_now(self, state: ScoreState, settings: ScoringSettings) -> int:
        return scoring.score(state.attribute_points, state.engagement, self.clock(), settings.half_life_days)

    def _visible(
        self, session: Session, principal: Principal, lead_id: str, for_update: bool = False
    ) -> tuple[Lead, ScoreState]:
        found = store.get_lead(session, principal.tenant_id, lead_id, for_update=for_update)
        # A rep limited to its own records sees another owner's lead as absent (ADR 0013).
        if found is None or (principal.own_records_only and found[0].data.owner_id != principal.subject):
            raise NotFound.resource("lead", lead_id)
        return found

    # ---- update and delete ---------------------------------------------------------------------

    def update(self, principal: Principal, lead_id: str, patch: LeadFields, mask: Sequence[str], etag: str) -> LeadView:
        now = self.clock()
        actor = _actor(principal)
        with self.database.transaction() as session:
            current, state = self._visible(session, principal, lead_id, for_update=True)
            leads.check_etag(current, etag)
            updated, changed = leads.apply_update(current, patch, mask, now)
            settings = store.scoring_settings(session, principal.tenant_id)
            if not changed:
                return LeadView(current, self._score_now(state, settings))
            if principal.own_records_only and updated.data.owner_id != principal.subject:
                raise InvalidArgument.of([FieldViolation("owner_id", "you may only keep leads you own")])
            entries = []
            if "status" in changed:
                entries.append(
                    HistoryEntry(now, "status", f"status {current.data.status} -> {updated.data.status}", actor)
                )
            others = [c for c in changed if c not in ("status", "owner_id")]
            if others:
                entries.append(HistoryEntry(now, "updated", "changed " + ", ".join(others), actor))
            reason = (
                f"reassigned from {current.data.owner_id or 'nobody'} to {updated.data.owner_id or 'nobody'} by {actor}"
            )
            if "owner_id" in changed:
                entries.append(HistoryEntry(now, "assigned", reason, actor))
            store.save_lead(session, updated)
            store.add_history(session, updated.tenant_id, updated.id, entries)
            points, reasons = scoring.attribute_points(store.scoring_rules(session, updated.tenant_id), updated.data)
            state, score = self.scorer.apply(
                session,
                updated,
                state,
                settings,
                now,
                attribute_points=points,
                message="attribute rules after the change: " + (", ".join(reasons) or "none apply"),
                actor="scoring rules",
            )
            store.save_score(session, updated.tenant_id, updated.id, state)
            if "owner_id" in changed:
                event = events_pb2.LeadAssigned(
                    lead=lead_snapshot(updated, score), previous_owner_id=current.data.owner_id, reason=reason
                )
                self.outbox.add(session, event, tenant_id=updated.tenant_id, subject=updated.id)
        return LeadView(updated, score)

    def delete(self, principal: Principal, lead_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current, _ = self._visible(session, principal, lead_id, for_update=True)
            leads.check_etag(current, etag)
            store.delete_lead(session, principal.tenant_id, lead_id)

    # ---- conversion ----------------------------------------------------------------------------

    def convert(
        self,
        principal: Principal,
        lead_id: str,
        create_account: bool = False,
        create_opportunity: bool = False,
        opportunity_name: str = "",
    ) -> ConversionResult:
        """Resumable: each step's result is stored before the next starts; the lead becomes
        converted (and LeadConverted is published) only when every asked-for step is done."""
        if self.directory is None:
            raise RuntimeError("no contacts directory configured")
        now = self.clock()
        with self.database.transaction() as session:
            lead, state = self._visible(session, principal, lead_id, for_update=True)
            record = store.get_conversion(session, principal.tenant_id, lead_id)
            settings = store.scoring_settings(session, principal.tenant_id)
            if lead.data.status == "converted" and record is not None:
                return self._result(lead, self._score_now(state, settings), record)
            if lead.data.status != "qualified":
                raise InvalidArgument.of(
                    [
                        FieldViolation(
                            "status", f"only a qualified lead can be converted; this one is {lead.data.status}"
                        )
                    ]
                )
            domain = lead.data.email.rsplit("@", 1)[1].lower() if "@" in lead.data.email else ""
            if create_account and not domain:
                raise InvalidArgument.of(
                    [FieldViolation("create_account", "the lead needs an email: its domain finds the account")]
                )
            record = store.start_conversion(session, principal.tenant_id, lead_id, now)
            contact_id, contact_reused = record.contact_id, record.contact_reused
            account_id, account_reused, linked = record.account_id, record.account_reused, record.account_linked
            opportunity_id = record.opportunity_id

        if not contact_id:
            found = self.directory.find_or_create_contact(lead)
            contact_id, contact_reused = found.id, found.reused
            self._record(principal, lead_id, contact_id=contact_id, contact_reused=contact_reused)
        if create_account and not account_id:
            found = self.directory.find_or_create_account(lead.data.company, domain, lead.data.owner_id)
            account_id, account_reused = found.id, found.reused
            self._record(principal, lead_id, account_id=account_id, account_reused=account_reused)
        if create_account and not linked:
            self.directory.link(contact_id, account_id)
            self._record(principal, lead_id, account_linked=True)
        if create_opportunity and not opportunity_id:
            name = opportunity_name.strip() or f"{lead.data.company or lead.data.given_name or lead.id} deal"

            def claim(session: Session, new_id: str | None) -> str:
                """The opportunity and the record of it commit together; the record's row lock
                makes a concurrent attempt find the first one's opportunity instead of a second."""
                record = store.get_conversion(session, principal.tenant_id, lead_id, for_update=True)
                assert record is not None
                if new_id is None:
                    return record.opportunity_id or ""
                record.opportunity_id, record.update_time = new_id, self.clock()
                return new_id

            opportunity_id = self.open_opportunity(principal, lead, contact_id, account_id, name, claim)

        now = self.clock()
        with self.database.transaction() as session:
            lead, state = self._visible(session, principal, lead_id, for_update=True)
            record = store.get_conversion(session, principal.tenant_id, lead_id)
            assert record is not None
            score = self._score_now(state, store.scoring_settings(session, principal.tenant_id))
            if lead.data.status == "converted":  # a concurrent attempt finished first
                return self._result(lead, score, record)
            conversion = Conversion(
                contact_id, account_id if create_account else "", opportunity_id if create_opportunity else ""
            )
            done = leads.converted(lead, conversion, now)
            store.save_lead(session, done)
            record.state = "completed"
            record.account_id, record.opportunity_id = conversion.account_id, conversion.opportunity_id
            record.update_time = now
            parts = [f"contact {contact_id} ({'reused' if contact_reused else 'created'})"]
            if conversion.account_id:
                parts.append(f"account {account_id} ({'reused' if account_reused else 'created'})")
            if conversion.opportunity_id:
                parts.append(f"opportunity {opportunity_id}")
            store.add_history(
                session,
                lead.tenant_id,
                lead.id,
                [HistoryEntry(now, "converted", "converted: " + ", ".join(parts), _actor(principal))],
            )
            event = events_pb2.LeadConverted(
                lead=lead_snapshot(done, score),
                contact_id=contact_id,
                account_id=conversion.account_id,
                opportunity_id=conversion.opportunity_id,
            )
            self.outbox.add(session, event, tenant_id=lead.tenant_id, subject=lead.id)
            return self._result(done, score, record)

    def _record(self, principal: Principal, lead_id: str, **values: Any) -> None:
        with self.database.transaction() as session:
            record = store.get_conversion(session, principal.tenant_id, lead_id)
            assert record is not None
            for name, value in values.items():
                setattr(record, name, value)
            record.update_time = self.clock()

    @staticmethod
    def _result(lead: Lead, score: int, record: store.LeadConversionRow) -> ConversionResult:
        return ConversionResult(
            LeadView(lead, score),
            record.contact_id,
            lead.converted.account_id,
            lead.converted.opportunity_id,
            record.contact_reused,
            record.account_reused and bool(lead.converted.account_id),
        )

    # ---- engagement (consumer) and decay (worker) ----------------------------------------------

    def engaged(self, session: Session, tenant_id: str, email: str, kind: str, when: dt.datetime, what: str) -> int:
        """Adds an engagement's points to the tenant's unconverted leads with this email; returns
        how many leads it scored."""
        if not email:
            return 0
        settings = store.scoring_settings(session, tenant_id)
        points = settings.points_for(kind)
        found = store.leads_with_email(session, tenant_id, email)
        now = self.clock()
        for lead, state in found:
            engagement = state.engagement.plus(points, min(when, now), settings.half_life_days)
            new_state, _ = self.scorer.apply(
                session,
                lead,
                state,
                settings,
                now,
                engagement=engagement,
                message=f"{what} +{points}",
                actor="marketing",
            )
            store.save_score(session, tenant_id, lead.id, new_state)
        return len(found)

    def refresh_scores(self, batch: int = 200) -> int:
        """Brings stored scores up to date with decay and reports scores that decayed below the
        threshold; returns how many leads changed."""
        changed, after = 0, ("", "")
        while True:
            with self.database.transaction() as session:
                keys = store.engaged_leads(session, after, batch)
            if not keys:
                return changed
            for tenant_id, lead_id in keys:
                with self.database.transaction() as session:
                    found = store.get_lead(session, tenant_id, lead_id, for_update=True)
                    if found is None:
                        continue
                    lead, state = found
                    settings = store.scoring_settings(session, tenant_id)
                    now = self.clock()
                    new_state, _ = self.scorer.apply(
                        session, lead, state, settings, now, message="decay", actor="scoring", quiet=True
                    )
                    if new_state != state:
                        # Engagement too small to ever count again is dropped, so the scan stays short.
                        if new_state.engagement.at(now, settings.half_life_days) < 0.01:
                            new_state = replace(new_state, engagement=Engagement())
                        store.save_score(session, tenant_id, lead_id, new_state)
                        changed += 1
            after = keys[-1]


class ScoreDecay:
    """The worker that refreshes decayed scores every `interval` seconds."""

    def __init__(self, leads_: Leads, interval_seconds: float = 300.0) -> None:
        self.leads = leads_
        self.interval = interval_seconds

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.leads.refresh_scores()
            except Exception:
                log.exception("lead score decay pass failed; next pass in %s s", self.interval)


ENGAGEMENTS: Mapping[type[Message], tuple[str, str]] = {
    marketing_events.EmailOpened: ("email_opened", "email opened"),
    marketing_events.EmailClicked: ("email_clicked", "email clicked"),
    marketing_events.FormSubmitted: ("form_submitted", "form submitted"),
}
SCORING_CONSUMER = "sales.lead-scoring"


def engagement_consumer(database: Database, leads_: Leads) -> EventConsumer:
    def handler_for(kind: str, label: str) -> Callable[[Session, Envelope, Message], None]:
        def handle(session: Session, envelope: Envelope, event: Message) -> None:
            engagement = event.engagement  # type: ignore[attr-defined]
            when = (
                engagement.occur_time.ToDatetime(dt.UTC)
                if engagement.HasField("occur_time")
                else (envelope.time.ToDatetime(dt.UTC))
            )
            campaign = f" ({engagement.campaign_name})" if engagement.campaign_name else ""
            leads_.engaged(session, envelope.tenant, engagement.email, kind, when, label + campaign)

        return handle

    handlers = [Handles(message, handler_for(kind, label)) for message, (kind, label) in ENGAGEMENTS.items()]
    return EventConsumer(SCORING_CONSUMER, database, INBOX, handlers)


# ---- web forms -------------------------------------------------------------------------------

FORM_FIELDS = {
    "givenName": "given_name",
    "familyName": "family_name",
    "email": "email",
    "phone": "phone",
    "company": "company",
    "title": "title",
    "country": "country",
    "industry": "industry",
    "companySize": "company_size",
}
MAX_FORM_EXTRAS = 20
MAX_FORM_VALUE = 1000


@dataclass(frozen=True)
class WebForm:
    id: str
    name: str
    public_key: str
    lead_source: str
    honeypot_field: str
    create_time: dt.datetime


def _form(row: store.WebFormRow) -> WebForm:
    return WebForm(row.id, row.name, row.public_key, row.lead_source, row.honeypot_field, row.create_time)


class WebForms:
    def __init__(self, database: Database, leads_: Leads, clock: Clock = utcnow) -> None:
        self.database = database
        self.leads = leads_
        self.clock = clock

    def create(self, principal: Principal, name: str, lead_source: str, honeypot_field: str) -> WebForm:
        check = Validator()
        name = check.text("name", name, leads.MAX_NAME)
        if not name:
            check.add("name", "is required")
        source = check.text("lead_source", lead_source, leads.MAX_SOURCE) or "web_form"
        honeypot = check.text("honeypot_field", honeypot_field, 64) or "website"
        if honeypot in FORM_FIELDS:
            check.add("honeypot_field", "must not be one of the lead's fields")
        check.raise_if_any()
        row = store.WebFormRow(
            id=new_id(),
            tenant_id=principal.tenant_id,
            name=name,
            public_key="wf_" + secrets.token_urlsafe(24),
            lead_source=source,
            honeypot_field=honeypot,
            create_time=self.clock(),
        )
        with self.database.transaction() as session:
            store.add_web_form(session, row)
            return _form(row)

    def get(self, principal: Principal, form_id: str) -> WebForm:
        with self.database.transaction() as session:
            row = store.web_form(session, principal.tenant_id, form_id)
            if row is None:
                raise NotFound.resource("web form", form_id)
            return _form(row)

    def delete(self, principal: Principal, form_id: str) -> None:
        with self.database.transaction() as session:
            if not store.delete_web_form(session, principal.tenant_id, form_id):
                raise NotFound.resource("web form", form_id)

    def list(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[WebForm], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "webForms") or ""
        with self.database.transaction() as session:
            rows = [_form(r) for r in store.web_forms(session, principal.tenant_id, str(after), size + 1)]
        return page_of(rows, size, lambda f: f.id, "webForms")

    def submit(self, key: str, fields: Mapping[str, str]) -> bool:
        """The tenant is the form's, found by its key alone. A filled honeypot is accepted and
        dropped; returns whether a lead was created."""
        with self.database.transaction() as session:
            row = store.web_form_by_key(session, key.strip())
            if row is None:
                raise NotFound("no web form has this key")
            form = _form(row)
            if fields.get(form.honeypot_field, "").strip():
                log.info("web form %s: honeypot filled, submission dropped", form.id)
                return False
            data = self._fields(form, fields)
            now = self.clock()
            try:
                lead = leads.new_lead(new_id(), row.tenant_id, data, now)
            except InvalidArgument as exc:
                raise InvalidArgument.of([_form_violation(v) for v in exc.violations]) from None
            self.leads.create_in_tenant(session, lead, f"webform:{form.id}")
        return True

    @staticmethod
    def _fields(form: WebForm, fields: Mapping[str, str]) -> LeadFields:
        values: dict[str, Any] = {}
        extras: dict[str, str] = {}
        violations = []
        for name, value in fields.items():
            if name == form.honeypot_field:
                continue
            if len(value) > MAX_FORM_VALUE or MULTI_LINE_CONTROL.search(value):
                violations.append(
                    FieldViolation(f"fields.{name}", f"at most {MAX_FORM_VALUE} characters, no control characters")
                )
            elif name in FORM_FIELDS:
                values[FORM_FIELDS[name]] = value
            else:
                extras[name] = value.strip()
        if len(extras) > MAX_FORM_EXTRAS:
            violations.append(FieldViolation("fields", f"at most {MAX_FORM_EXTRAS} fields besides the lead's own"))
        if violations:
            raise InvalidArgument.of(violations)
        return LeadFields(**values, source=form.lead_source, custom_attributes=extras)


def _form_violation(violation: FieldViolation) -> FieldViolation:
    if violation.field.startswith("custom_attributes."):
        return FieldViolation("fields." + violation.field.split(".", 1)[1], violation.description)
    reverse = {v: k for k, v in FORM_FIELDS.items()}
    return FieldViolation(f"fields.{reverse.get(violation.field, violation.field)}", violation.description)


# ---- assignment and scoring rules ------------------------------------------------------------


class AssignmentRules:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, rule: AssignmentRule) -> AssignmentRule:
        rule = assignment.validate_rule(
            replace(rule, id=new_id(), tenant_id=principal.tenant_id, create_time=self.clock())
        )
        with self.database.transaction() as session:
            store.add_assignment_rule(session, rule)
        return rule

    def get(self, principal: Principal, rule_id: str) -> AssignmentRule:
        with self.database.transaction() as session:
            rule = store.assignment_rule(session, principal.tenant_id, rule_id)
        if rule is None:
            raise NotFound.resource("assignment rule", rule_id)
        return rule

    def list(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[AssignmentRule], str]:
        size = page_size(requested_size)
        start = decode_cursor(page_token, "assignmentRules")
        offset = int(start) if start else 0
        with self.database.transaction() as session:
            rules = store.assignment_rules(session, principal.tenant_id)
        page = rules[offset : offset + size]
        more = len(rules) > offset + size
        return page, encode_cursor(str(offset + size), "assignmentRules") if more else ""

    def delete(self, principal: Principal, rule_id: str) -> None:
        with self.database.transaction() as session:
            if not store.delete_assignment_rule(session, principal.tenant_id, rule_id):
                raise NotFound.resource("assignment rule", rule_id)


class Scoring:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create_rule(self, principal: Principal, attribute: str, value: str, points: int) -> ScoringRule:
        rule = scoring.validate_rule(ScoringRule(new_id(), principal.tenant_id, attribute, value, points, self.clock()))
        with self.database.transaction() as session:
            store.add_scoring_rule(session, rule)
        return rule

    def get_rule(self, principal: Principal, rule_id: str) -> ScoringRule:
        with self.database.transaction() as session:
            rule = store.scoring_rule(session, principal.tenant_id, rule_id)
        if rule is None:
            raise NotFound.resource("scoring rule", rule_id)
        return rule

    def list_rules(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[ScoringRule], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "scoringRules") or ""
        with self.database.transaction() as session:
            rules = store.scoring_rules(session, principal.tenant_id, str(after), size + 1)
        return page_of(rules, size, lambda r: r.id, "scoringRules")

    def delete_rule(self, principal: Principal, rule_id: str) -> None:
        with self.database.transaction() as session:
            if not store.delete_scoring_rule(session, principal.tenant_id, rule_id):
                raise NotFound.resource("scoring rule", rule_id)

    def settings(self, principal: Principal) -> ScoringSettings:
        with self.database.transaction() as session:
            return store.scoring_settings(session, principal.tenant_id)

    def update_settings(self, principal: Principal, patch: ScoringSettings, mask: Sequence[str]) -> ScoringSettings:
        with self.database.transaction() as session:
            current = store.scoring_settings(session, principal.tenant_id)
            merged, changed = apply_mask(current, patch, mask, scoring.validate_settings)
            if changed:
                store.save_scoring_settings(session, principal.tenant_id, merged)
        return merged
