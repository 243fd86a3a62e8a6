"""Nurture sequences: the API's use cases, enrolment and exits (in the caller's transaction), and
the scheduler that runs due steps (docs/adr/0055, 0056; how a step runs exactly once is told on
SequenceRunner).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Validator,
)
from crmkit.etags import etag_of
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from services.marketing import store
from services.marketing.delivery import FAILED, RENDER_FAILED, SEQUENCE, SKIPPED, Delivery, Outgoing
from services.marketing.delivery import SENT as DELIVERED
from services.marketing.domain import AudienceMember
from services.marketing.domain import consent as consent_rules
from services.marketing.domain import segments as segment_rules
from services.marketing.domain import sequences as rules
from services.marketing.domain.sequences import SequenceFields
from services.marketing.domain.templating import TemplateParts
from services.marketing.store import EnrolmentRow, SequenceRow, StepRunRow

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)
ENROL_CHUNK = 500


# --- sending: an email step goes through marketing's one send path (delivery.py) -------------


@dataclass(frozen=True)
class Sent:
    message_id: str  # the per-recipient message record


@dataclass(frozen=True)
class NotSent:
    # may_send's reason (`unsubscribed`, `suppressed`, ...), a render error or the server's refusal.
    reason: str
    refused: bool  # True: may_send said no (the enrolment exits); False: nothing sent this time


class Sender(Protocol):
    """Sends one step's message; None when it could not be handed over yet (ask again later)."""

    def __call__(
        self, tenant_id: str, sequence_id: str, contact_id: str, template: TemplateParts, ref_id: str
    ) -> Sent | NotSent | None: ...


def step_ref(enrolment_id: str, step_index: int) -> str:
    """Names one step's message for its contact, the same on every attempt: delivery derives its
    record and SendEmail's idempotency key from it, so a rerun after a crash sends nothing."""
    return f"{enrolment_id}:{step_index + 1}"


class DeliverySender:
    """The Sender of the marketing target: delivery.Delivery with origin "sequence"."""

    def __init__(self, send_path: Delivery) -> None:
        self.delivery = send_path

    def __call__(
        self, tenant_id: str, sequence_id: str, contact_id: str, template: TemplateParts, ref_id: str
    ) -> Sent | NotSent | None:
        record = self.delivery.send(
            Outgoing(tenant_id, contact_id, SEQUENCE, ref_id, template, sequence_id=sequence_id)
        )
        if record.status == DELIVERED:
            return Sent(record.id)
        if record.status == SKIPPED:
            return NotSent(record.reason, refused=True)
        if record.status == RENDER_FAILED:
            return NotSent(f"render error: {record.render_error}", refused=False)
        if record.status == FAILED:
            return NotSent(f"send failed: {record.error}", refused=False)
        return None  # SENDING: integrations did not take it; the claim's expiry retries the step


# --- enrolment and exits (in the caller's transaction) ----------------------------------------


def enrol(
    session: Session, row: SequenceRow, contact_ids: Sequence[str], source: str, now: dt.datetime
) -> list[EnrolmentRow]:
    """Enrols the contacts not enrolled in this sequence before (once per contact, ever)."""
    known = store.enrolled_among(session, row.tenant_id, row.id, list(contact_ids))
    made = []
    for contact_id in dict.fromkeys(contact_ids):
        if contact_id in known:
            continue
        enrolment = EnrolmentRow(
            tenant_id=row.tenant_id,
            id=new_id(),
            sequence_id=row.id,
            contact_id=contact_id,
            source=source,
            status=rules.RUNNING,
            next_step=0,
            due_time=now,
            exit_reason="",
            exit_detail="",
            enrol_time=now,
            end_time=None,
        )
        session.add(enrolment)
        made.append(enrolment)
    session.flush()
    return made


def enrol_on_entry(
    session: Session, tenant_id: str, segment_id: str, contact_ids: Sequence[str], now: dt.datetime
) -> None:
    """Contacts that just entered a segment join the active sequences fed by it."""
    if not contact_ids:
        return
    for row in store.active_sequences_of_segment(session, tenant_id, segment_id):
        enrol(session, row, contact_ids, rules.SEGMENT_ENTRY, now)


def end(enrolment: EnrolmentRow, status: str, reason: str, detail: str, now: dt.datetime) -> None:
    enrolment.status, enrolment.exit_reason, enrolment.exit_detail = status, reason, detail[:200]
    enrolment.due_time, enrolment.end_time = None, now


def exit_contacts(
    session: Session, tenant_id: str, contact_ids: Sequence[str], reason: str, detail: str, now: dt.datetime
) -> int:
    """Every active enrolment of these contacts exits (reply, conversion, unsubscribe); how many."""
    found = store.running_enrolments(session, tenant_id, contact_ids=list(contact_ids)) if contact_ids else []
    for enrolment in found:
        end(enrolment, rules.EXITED, reason, detail, now)
    return len(found)


def exit_enrolments(
    session: Session, tenant_id: str, enrolment_ids: Sequence[str], reason: str, detail: str, now: dt.datetime
) -> int:
    if not enrolment_ids:
        return 0
    found = store.running_enrolments(session, tenant_id, enrolment_ids=list(enrolment_ids))
    for enrolment in found:
        end(enrolment, rules.EXITED, reason, detail, now)
    return len(found)


def exit_on_reply(
    session: Session,
    tenant_id: str,
    referenced: Sequence[str],
    from_address: str,
    now: dt.datetime,
) -> int:
    """A reply exits the enrolments whose email it answers (In-Reply-To/References name a Message-ID
    a step sent); failing that, a message from an enrolled contact's address exits the enrolments
    that have emailed them (mail clients drop threading headers)."""
    ids = [i.strip().strip("<>") for i in referenced if i.strip()]
    enrolment_ids = store.enrolments_of_mail(session, tenant_id, ids)
    detail = "answered a sequence email"
    if not enrolment_ids and from_address.strip():
        contacts = store.contacts_with_email(session, tenant_id, consent_rules.normalise_email(from_address))
        enrolment_ids = store.enrolments_mailed_to(session, tenant_id, contacts)
        detail = "wrote from the enrolled address"
    return exit_enrolments(session, tenant_id, enrolment_ids, rules.REPLIED, detail, now)


def exit_on_unsubscribe(session: Session, tenant_id: str, contact_id: str, channel: str, now: dt.datetime) -> None:
    if channel == "email":
        exit_contacts(session, tenant_id, [contact_id], rules.UNSUBSCRIBED, "unsubscribed from email", now)


def export(session: Session, tenant_id: str, contact_ids: set[str]) -> list[dict[str, object]]:
    """The contacts' enrolments with their step runs, for a privacy export."""
    found = store.enrolments_of_contacts(session, tenant_id, sorted(contact_ids))
    runs = store.step_runs(session, tenant_id, [e.id for e in found])
    return [
        {
            "sequenceId": e.sequence_id,
            "contactId": e.contact_id,
            "status": e.status,
            "exitReason": e.exit_reason,
            "enrolTime": e.enrol_time.isoformat(),
            "stepRuns": [
                {"step": r.step, "kind": r.kind, "outcome": r.outcome, "messageId": r.message_id} for r in runs[e.id]
            ],
        }
        for e in found
    ]


# --- the API's use cases ----------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceView:
    row: SequenceRow
    steps: tuple[rules.Step, ...]
    active_enrolments: int


@dataclass(frozen=True)
class EnrolmentView:
    row: EnrolmentRow
    runs: list[StepRunRow]


@dataclass(frozen=True)
class _Versioned:
    name: str
    segment_id: str
    steps: list[dict[str, object]]


def _etag(row: SequenceRow) -> str:
    return etag_of(row.id, _Versioned(row.name, row.segment_id, row.steps), row.update_time, row.state)


UPDATABLE = ("name", "segment_id", "steps")


class Sequences:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, tenant_id: str, fields: SequenceFields) -> SequenceView:
        fields = rules.validate(fields)
        now = self.clock()
        with self.database.transaction() as session:
            self._check_references(session, tenant_id, fields)
            row = SequenceRow(
                tenant_id=tenant_id,
                id=new_id(),
                name=fields.name,
                segment_id=fields.segment_id,
                state=rules.DRAFT,
                steps=rules.steps_to_json(fields.steps),
                create_time=now,
                update_time=now,
            )
            row.etag = _etag(row)
            session.add(row)
            return self._view(session, row)

    def get(self, tenant_id: str, sequence_id: str) -> SequenceView:
        with self.database.transaction() as session:
            return self._view(session, self._row(session, tenant_id, sequence_id))

    def page(self, tenant_id: str, token: str, requested: int) -> tuple[list[SequenceView], str]:
        size = page_size(requested)
        after = decode_cursor(token, "sequences")
        with self.database.transaction() as session:
            rows = store.sequences_page(session, tenant_id, after, size + 1)
            page, next_token = page_of(rows, size, lambda r: r.id, "sequences")
            counts = store.active_enrolment_counts(session, tenant_id, [r.id for r in page])
            return [SequenceView(r, rules.steps_from_json(r.steps), counts.get(r.id, 0)) for r in page], next_token

    def update(
        self, tenant_id: str, sequence_id: str, patch: SequenceFields, mask: Sequence[str], etag: str
    ) -> SequenceView:
        present = {"name": bool(patch.name), "segment_id": bool(patch.segment_id), "steps": bool(patch.steps)}
        paths = [_snake(p) for p in mask] or [name for name, given in present.items() if given]
        unknown = [p for p in paths if p not in UPDATABLE]
        if unknown:
            raise InvalidArgument.of([FieldViolation("update_mask", f"unknown or read-only field {unknown[0]!r}")])
        with self.database.transaction() as session:
            row = self._locked(session, tenant_id, sequence_id, etag)
            current = rules.steps_from_json(row.steps)
            if "steps" in paths and row.state != rules.DRAFT and patch.steps != current:
                raise InvalidArgument.of(
                    [FieldViolation("steps", f"a {row.state} sequence keeps its steps; copy it into a new one")]
                )
            merged = rules.validate(
                SequenceFields(
                    patch.name if "name" in paths else row.name,
                    patch.segment_id if "segment_id" in paths else row.segment_id,
                    patch.steps if "steps" in paths else current,
                )
            )
            self._check_references(session, tenant_id, merged)
            row.name, row.segment_id, row.steps = merged.name, merged.segment_id, rules.steps_to_json(merged.steps)
            self._touch(row)
            return self._view(session, row)

    def archive(self, tenant_id: str, sequence_id: str, etag: str) -> SequenceView:
        with self.database.transaction() as session:
            row = self._locked(session, tenant_id, sequence_id, etag)
            if row.state == rules.ARCHIVED:
                return self._view(session, row)
            rules.check_transition(row.state, rules.ARCHIVED)
            now = self.clock()
            for enrolment in store.running_enrolments(session, tenant_id, sequence_id=row.id):
                end(enrolment, rules.EXITED, rules.SEQUENCE_ARCHIVED, "", now)
            row.state = rules.ARCHIVED
            self._touch(row)
            return self._view(session, row)

    def activate(self, tenant_id: str, sequence_id: str, etag: str) -> SequenceView:
        """ACTIVE, and the segment's members not enrolled yet are enrolled (those who entered while
        it was paused or a draft)."""
        with self.database.transaction() as session:
            row = self._locked(session, tenant_id, sequence_id, etag)
            rules.check_transition(row.state, rules.ACTIVE)
            row.state = rules.ACTIVE
            self._touch(row)
            if row.segment_id:
                now = self.clock()
                after: str | None = None
                while chunk := store.segment_members_page(session, tenant_id, row.segment_id, after, ENROL_CHUNK):
                    enrol(session, row, [m.contact_id for m in chunk], rules.SEGMENT_MEMBER, now)
                    after = chunk[-1].contact_id
            return self._view(session, row)

    def pause(self, tenant_id: str, sequence_id: str, etag: str) -> SequenceView:
        with self.database.transaction() as session:
            row = self._locked(session, tenant_id, sequence_id, etag)
            rules.check_transition(row.state, rules.PAUSED)
            row.state = rules.PAUSED
            self._touch(row)
            return self._view(session, row)

    def enrol_contact(self, tenant_id: str, sequence_id: str, contact_id: str) -> EnrolmentView:
        check = Validator()
        contact_id = check.identifier("contactId", contact_id, 26)
        if not contact_id:
            check.add("contactId", "is required")
        check.raise_if_any()
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, sequence_id, for_update=True)
            if row.state == rules.ARCHIVED:
                raise FailedPrecondition(f"sequence {sequence_id} is archived: nobody can be enrolled")
            member = store.get(session, tenant_id, contact_id)
            if member is None or member.deleted:
                raise InvalidArgument.of([FieldViolation("contactId", f"unknown contact {contact_id}")])
            made = enrol(session, row, [contact_id], rules.MANUAL, self.clock())
            if not made:
                raise AlreadyExists(f"contact {contact_id} was enrolled in sequence {sequence_id} already")
            return EnrolmentView(made[0], [])

    def enrolments(
        self, tenant_id: str, sequence_id: str, status: str, token: str, requested: int
    ) -> tuple[list[EnrolmentView], str]:
        if status and status not in rules.ENROLMENT_STATUSES:
            raise InvalidArgument.of(
                [FieldViolation("status", f"must be one of {', '.join(rules.ENROLMENT_STATUSES)}")]
            )
        size = page_size(requested)
        scope = f"enrolments:{sequence_id}:{status}"
        after = decode_cursor(token, scope)
        with self.database.transaction() as session:
            self._row(session, tenant_id, sequence_id)
            found = store.enrolments_page(session, tenant_id, sequence_id, status, after, size + 1)
            page, next_token = page_of(found, size, lambda e: e.id, scope)
            runs = store.step_runs(session, tenant_id, [e.id for e in page])
            return [EnrolmentView(e, runs[e.id]) for e in page], next_token

    def enrolment(self, tenant_id: str, sequence_id: str, enrolment_id: str) -> EnrolmentView:
        with self.database.transaction() as session:
            row = self._enrolment(session, tenant_id, sequence_id, enrolment_id)
            return EnrolmentView(row, store.step_runs(session, tenant_id, [row.id])[row.id])

    def exit(self, tenant_id: str, sequence_id: str, enrolment_id: str) -> EnrolmentView:
        with self.database.transaction() as session:
            row = self._enrolment(session, tenant_id, sequence_id, enrolment_id, for_update=True)
            if row.status == rules.RUNNING:
                end(row, rules.EXITED, rules.REMOVED, "", self.clock())
            return EnrolmentView(row, store.step_runs(session, tenant_id, [row.id])[row.id])

    @staticmethod
    def _check_references(session: Session, tenant_id: str, fields: SequenceFields) -> None:
        check = Validator()
        if fields.segment_id and store.get_segment(session, tenant_id, fields.segment_id) is None:
            check.add("segmentId", f"unknown segment {fields.segment_id}")
        for index, step in enumerate(fields.steps):
            if step.kind == rules.EMAIL and store.get_template(session, tenant_id, step.template_id) is None:
                check.add(f"steps[{index}].email.templateId", f"unknown template {step.template_id}")
        check.raise_if_any()

    def _touch(self, row: SequenceRow) -> None:
        row.update_time = self.clock()
        row.etag = _etag(row)

    @staticmethod
    def _row(session: Session, tenant_id: str, sequence_id: str, *, for_update: bool = False) -> SequenceRow:
        row = store.get_sequence(session, tenant_id, sequence_id, for_update=for_update)
        if row is None:
            raise NotFound.resource("sequence", sequence_id)
        return row

    def _locked(self, session: Session, tenant_id: str, sequence_id: str, etag: str) -> SequenceRow:
        row = self._row(session, tenant_id, sequence_id, for_update=True)
        if etag and etag != row.etag:
            raise Aborted(f"sequence {sequence_id} was changed since etag {etag}; read it again and retry")
        return row

    @staticmethod
    def _enrolment(
        session: Session, tenant_id: str, sequence_id: str, enrolment_id: str, *, for_update: bool = False
    ) -> EnrolmentRow:
        row = store.get_enrolment(session, tenant_id, sequence_id, enrolment_id, for_update=for_update)
        if row is None:
            raise NotFound.resource("enrolment", enrolment_id)
        return row

    @staticmethod
    def _view(session: Session, row: SequenceRow) -> SequenceView:
        session.flush()
        count = store.active_enrolment_counts(session, row.tenant_id, [row.id]).get(row.id, 0)
        return SequenceView(row, rules.steps_from_json(row.steps), count)


def _snake(path: str) -> str:
    return "segment_id" if path in ("segmentId", "segment_id") else path


# --- the scheduler ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailClaim:
    """An email step claimed for sending (the enrolment's due time moved past the claim)."""

    tenant_id: str
    enrolment_id: str
    index: int
    sequence_id: str
    contact_id: str
    template: TemplateParts | None


class SequenceRunner:
    """Runs due steps of every tenant's enrolments: a worker of the marketing target.

    A wait or condition step is one transaction: lock the enrolment (SKIP LOCKED), insert the step
    record, move the enrolment. An email step is three: claim it (its due time moves `claim_seconds`
    ahead, so no other runner takes it meanwhile), send through delivery outside any transaction
    (never hold a lock over a mail server), then record and move. A crash before the record leaves
    the step due again when the claim expires; the rerun asks delivery for the same message, which
    answers the first one and sends nothing. The step record's primary key refuses a second run of
    a step on any database. A database outage or a failed tick leaves the step due for the next tick.
    """

    NAME = "sequence-steps"

    def __init__(
        self,
        database: Database,
        send: Sender,
        clock: Clock = utcnow,
        poll_seconds: float = 5.0,
        claim_seconds: float = 120.0,
        batch: int = 100,
    ) -> None:
        self.database = database
        self.send = send
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.claim = dt.timedelta(seconds=claim_seconds)
        self.batch = batch

    def run(self, stop: threading.Event) -> None:
        # A full batch means more are due: the next tick goes at once.
        every(
            self.poll_seconds,
            lambda: self.tick(stop),
            "sequence step tick",
            again=lambda looked_at: isinstance(looked_at, int) and looked_at >= self.batch,
        )(stop)

    def tick(self, stop: threading.Event | None = None) -> int:
        """Runs every step due now, as far as each enrolment can go without waiting; how many
        enrolments it looked at."""
        with self.database.transaction() as session:
            due = store.due_enrolments(session, self.clock(), self.batch)
        for tenant_id, enrolment_id in due:
            for _ in range(rules.MAX_STEPS + 1):
                if (stop is not None and stop.is_set()) or not self.step(tenant_id, enrolment_id):
                    break
        return len(due)

    def step(self, tenant_id: str, enrolment_id: str) -> bool:
        """Runs the enrolment's current step if it is due and free; whether the next one is due at once."""
        try:
            with self.database.transaction() as session:
                claimed = self._run(session, tenant_id, enrolment_id)
            if not isinstance(claimed, EmailClaim):
                return claimed
            result = self._send(claimed)
            with self.database.transaction() as session:
                return self._record_email(session, claimed, result)
        except IntegrityError:
            # Another runner recorded this step first: nothing to do.
            log.info("step of enrolment %s already run elsewhere", enrolment_id)
            return False

    def _send(self, claim: EmailClaim) -> Sent | NotSent | None:
        if claim.template is None:
            return NotSent("the template no longer exists", refused=False)
        ref = step_ref(claim.enrolment_id, claim.index)
        return self.send(claim.tenant_id, claim.sequence_id, claim.contact_id, claim.template, ref)

    def _run(self, session: Session, tenant_id: str, enrolment_id: str) -> bool | EmailClaim:
        now = self.clock()
        enrolment = store.lock_enrolment_if_free(session, tenant_id, enrolment_id)
        if enrolment is None or enrolment.status != rules.RUNNING or enrolment.due_time is None:
            return False
        if enrolment.due_time > now:
            return False
        sequence = store.get_sequence(session, tenant_id, enrolment.sequence_id)
        if sequence is None or sequence.state != rules.ACTIVE:
            return False
        steps = rules.steps_from_json(sequence.steps)
        index = enrolment.next_step
        if index >= len(steps):
            end(enrolment, rules.COMPLETED, "", "", now)
            return False
        member = store.get(session, tenant_id, enrolment.contact_id)
        if member is None or member.deleted:
            end(enrolment, rules.EXITED, rules.CONTACT_DELETED, "", now)
            return False
        step = steps[index]
        if step.kind == rules.EMAIL:
            enrolment.due_time = now + self.claim
            row = store.get_template(session, tenant_id, step.template_id)
            template = TemplateParts(row.subject, row.html_body, row.text_body) if row is not None else None
            return EmailClaim(tenant_id, enrolment.id, index, sequence.id, enrolment.contact_id, template)
        if step.kind == rules.WAIT:
            outcome = rules.WAITED
        else:
            outcome = rules.TRUE if self._holds(session, steps, index, enrolment, member, now) else rules.FALSE
        store.add_step_run(session, _run_row(enrolment, index, step.kind, outcome, now))
        return self._move(enrolment, steps, index, outcome, now)

    def _record_email(self, session: Session, claim: EmailClaim, result: Sent | NotSent | None) -> bool:
        now = self.clock()
        enrolment = store.lock_enrolment(session, claim.tenant_id, claim.enrolment_id)
        if enrolment is None or enrolment.next_step != claim.index or result is None:
            return False  # recorded by another runner already, or to be tried again when the claim expires
        run = _run_row(enrolment, claim.index, rules.EMAIL, rules.SENT, now)
        if isinstance(result, Sent):
            message = store.get_message(session, claim.tenant_id, result.message_id)
            run.message_id, run.mail_message_id = result.message_id, message.rfc_message_id if message else ""
        else:
            run.outcome, run.detail = rules.NOT_SENT, result.reason[:200]
        store.add_step_run(session, run)
        if enrolment.status != rules.RUNNING:
            return False  # it exited (a reply, say) while the message was going out: recorded, not moved
        if isinstance(result, NotSent) and result.refused:
            reason = rules.UNSUBSCRIBED if result.reason == "unsubscribed" else rules.NOT_SENDABLE
            end(enrolment, rules.EXITED, reason, result.reason, now)
            return False
        sequence = store.get_sequence(session, claim.tenant_id, claim.sequence_id)
        assert sequence is not None
        return self._move(enrolment, rules.steps_from_json(sequence.steps), claim.index, run.outcome, now)

    @staticmethod
    def _move(enrolment: EnrolmentRow, steps: Sequence[rules.Step], index: int, outcome: str, now: dt.datetime) -> bool:
        move = rules.after(steps, index, outcome)
        if move.next_step is None:
            end(enrolment, move.status, move.exit_reason, "", now)
            return False
        enrolment.next_step, enrolment.due_time = move.next_step, now + move.delay
        return not move.delay

    @staticmethod
    def _holds(
        session: Session,
        steps: Sequence[rules.Step],
        index: int,
        enrolment: EnrolmentRow,
        member: AudienceMember,
        now: dt.datetime,
    ) -> bool:
        rule = rules.condition_rule(steps, index)
        window = segment_rules.engagement_window([rule])
        since = min(enrolment.enrol_time, now - dt.timedelta(days=window))
        engaged = store.engagements(session, enrolment.tenant_id, enrolment.contact_id, since)
        sent = {
            r.step: r.message_id
            for r in store.step_runs(session, enrolment.tenant_id, [enrolment.id])[enrolment.id]
            if r.kind == rules.EMAIL
        }
        return segment_rules.matches(rule, member, engaged, now, sent)


def _run_row(enrolment: EnrolmentRow, index: int, kind: str, outcome: str, now: dt.datetime) -> StepRunRow:
    return StepRunRow(
        tenant_id=enrolment.tenant_id,
        enrolment_id=enrolment.id,
        step=index + 1,
        kind=kind,
        outcome=outcome,
        message_id="",
        mail_message_id="",
        detail="",
        run_time=now,
    )
