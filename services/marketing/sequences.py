"""Nurture sequences: the API's use cases, enrolment and exits (in the caller's transaction), and
the scheduler that runs due steps (docs/adr/0055, 0056).

A step runs in one transaction with its step record and the enrolment's move: the enrolment row
is locked (SKIP LOCKED, so replicas share the work), the step runs, the record is inserted (its
primary key refuses a second run of the same step on any database), the enrolment moves on, and
the transaction commits. An email step's send uses an idempotency key made of the enrolment and
the step, so a crash after the send and before the commit runs the step again without sending
again.
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
from crmkit.errors import Aborted, AlreadyExists, FieldViolation, InvalidArgument, NotFound, Validator
from crmkit.etags import etag_of
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from services.marketing import store
from services.marketing.domain import AudienceMember
from services.marketing.domain import consent as consent_rules
from services.marketing.domain import segments as segment_rules
from services.marketing.domain import sequences as rules
from services.marketing.domain.sequences import SequenceFields
from services.marketing.store import EnrolmentRow, SequenceRow, StepRunRow

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)
ENROL_CHUNK = 500


# --- sending: what an email step needs from the one send path ---------------------------------


@dataclass(frozen=True)
class Sent:
    # The per-recipient message record, and the Message-ID header the mail went out with.
    message_id: str
    mail_message_id: str


@dataclass(frozen=True)
class NotSent:
    # may_send's reason (`unsubscribed`, `suppressed`, ...) or a render error.
    reason: str
    refused: bool  # True: may_send said no (the enrolment exits); False: nothing to send this time


class Sender(Protocol):
    def __call__(
        self, session: Session, tenant_id: str, contact_id: str, template_id: str, idempotency_key: str, ref: str
    ) -> Sent | NotSent: ...


def idempotency_key(enrolment_id: str, step_index: int) -> str:
    """The same for every attempt at one step of one enrolment: a rerun after a crash sends nothing."""
    return f"sequence-step:{enrolment_id}:{step_index + 1}"


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
                raise InvalidArgument.of([FieldViolation("sequenceId", "the sequence is archived")])
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


class SequenceRunner:
    """Runs due steps of every tenant's enrolments: a worker of the marketing target. Each step is
    one transaction (see the module's docstring); a database outage or a failed send leaves the
    step due, and the next tick tries it again."""

    NAME = "sequence-steps"

    def __init__(
        self,
        database: Database,
        send: Sender,
        clock: Clock = utcnow,
        poll_seconds: float = 5.0,
        batch: int = 100,
    ) -> None:
        self.database = database
        self.send = send
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.tick(stop) >= self.batch
            except Exception:  # a database outage must not kill the thread; the next tick retries
                log.exception("sequence step tick failed")
                busy = False
            if not busy:
                stop.wait(self.poll_seconds)

    def tick(self, stop: threading.Event | None = None) -> int:
        """Runs every step due now, as far as each enrolment can go without waiting; how many
        enrolments it looked at."""
        now = self.clock()
        with self.database.transaction() as session:
            due = store.due_enrolments(session, now, self.batch)
        for tenant_id, enrolment_id in due:
            for _ in range(rules.MAX_STEPS + 1):
                if (stop is not None and stop.is_set()) or not self._step(tenant_id, enrolment_id):
                    break
        return len(due)

    def _step(self, tenant_id: str, enrolment_id: str) -> bool:
        """Runs the enrolment's current step if it is due and free; whether the next one is due at once."""
        try:
            with self.database.transaction() as session:
                return self._run(session, tenant_id, enrolment_id)
        except IntegrityError:
            # Another runner recorded this step first (SQLite has no SKIP LOCKED): nothing to do.
            log.info("step of enrolment %s already run elsewhere", enrolment_id)
            return False

    def _run(self, session: Session, tenant_id: str, enrolment_id: str) -> bool:
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
        run = StepRunRow(
            tenant_id=tenant_id,
            enrolment_id=enrolment.id,
            step=index + 1,
            kind=step.kind,
            outcome="",
            message_id="",
            mail_message_id="",
            detail="",
            run_time=now,
        )
        refused = ""
        if step.kind == rules.EMAIL:
            result = self.send(
                session,
                tenant_id,
                enrolment.contact_id,
                step.template_id,
                idempotency_key(enrolment.id, index),
                f"{sequence.id}/{enrolment.id}/{index + 1}",
            )
            if isinstance(result, Sent):
                run.outcome, run.message_id, run.mail_message_id = rules.SENT, result.message_id, result.mail_message_id
            else:
                run.outcome, run.detail = rules.NOT_SENT, result.reason[:200]
                refused = result.reason if result.refused else ""
        elif step.kind == rules.WAIT:
            run.outcome = rules.WAITED
        else:
            run.outcome = rules.TRUE if self._holds(session, steps, index, enrolment, member, now) else rules.FALSE
        store.add_step_run(session, run)
        if refused:
            reason = rules.UNSUBSCRIBED if refused == "unsubscribed" else rules.NOT_SENDABLE
            end(enrolment, rules.EXITED, reason, refused, now)
            return False
        move = rules.after(steps, index, run.outcome)
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
