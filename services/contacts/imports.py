"""Contact imports from CSV as jobs (docs/adr/0038).

A job is created with its column mapping, receives the file in ordered chunks, and once started is
run by the contacts service's import worker in two phases:

1. VALIDATING reads the file and checks every row with the same rules as any other write
   (domain.normalise); good rows are staged (COPY on PostgreSQL), bad ones are recorded with their
   row number, field and message. Nothing is written to contacts. A malformed file (bad UTF-8,
   unbalanced quotes, a mapped column missing from the header) fails the job here.
2. IMPORTING writes the staged rows in batches: each batch, its ContactsImported event and the
   job's resume point commit in one transaction, so a crash leaves whole batches only and the next
   worker resumes after the last one.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from crmkit.db import Database, is_conflict, is_unavailable, utcnow
from crmkit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import custom_fields, dedup_store, domain, import_store, store, store_accounts
from services.contacts.custom_fields import Schema
from services.contacts.domain import Contact, ContactFields
from services.contacts.events import contacts_imported
from services.contacts.import_store import ImportErrorRow, ImportJobRow
from services.contacts.usecases_accounts import schema_of

log = logging.getLogger(__name__)

UPLOADING, QUEUED, VALIDATING, IMPORTING = "UPLOADING", "QUEUED", "VALIDATING", "IMPORTING"
SUCCEEDED, FAILED, CANCELLED = "SUCCEEDED", "FAILED", "CANCELLED"
RUNNABLE = (QUEUED, VALIDATING, IMPORTING)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
MATCH_KEYS = ("EMAIL", "EXTERNAL_ID")
MAX_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNKS = 100_000
MAX_COLUMNS = 200
MAX_ERRORS = 100_000  # per job; past it, rows still count as failed but are not listed
ASSIGN_SCOPE = "contacts:assign"
# Mapping targets (API field names) -> ContactFields attributes.
TARGETS = {
    "givenName": "given_name",
    "familyName": "family_name",
    "email": "email",
    "phone": "phone",
    "title": "title",
    "ownerId": "owner_id",
    "lifecycleStage": "lifecycle_stage",
    "tags": "tags",
    "accountIds": "account_ids",
    "externalId": "external_id",
}
LIST_FIELDS = frozenset({"tags", "account_ids"})
CUSTOM_PREFIX = "customFields."
KEY_FIELD = {"EMAIL": "email", "EXTERNAL_ID": "external_id"}


@dataclass(frozen=True)
class Column:
    index: int
    attribute: str  # a ContactFields attribute, or "custom_fields.<key>"


@dataclass(frozen=True)
class CheckedRow:
    number: int
    key: str
    # The normalised values of the fields the row sets (empty cells set nothing).
    values: dict[str, Any]


class MalformedFile(Exception):
    """The file cannot be read as the CSV the job describes: the job fails, nothing is written."""


def check_mapping(mapping: Mapping[str, str], match_key: str, principal: Principal) -> list[FieldViolation]:
    violations = []
    if not mapping:
        violations.append(FieldViolation("columnMapping", "map at least one CSV column to a contact field"))
    if len(mapping) > MAX_COLUMNS:
        violations.append(FieldViolation("columnMapping", f"at most {MAX_COLUMNS} columns"))
    seen: dict[str, str] = {}
    for header, target in mapping.items():
        if not header.strip() or len(header) > 200:
            violations.append(FieldViolation(f"columnMapping.{header}", "a CSV header of 1 to 200 characters"))
        if target.startswith(CUSTOM_PREFIX):
            if not domain.CUSTOM_FIELD_KEY.match(target.removeprefix(CUSTOM_PREFIX)):
                violations.append(FieldViolation(f"columnMapping.{header}", "customFields.<key>: a valid key"))
        elif target not in TARGETS:
            violations.append(
                FieldViolation(f"columnMapping.{header}", f"one of {', '.join(TARGETS)} or customFields.<key>")
            )
        if target in seen:
            violations.append(FieldViolation(f"columnMapping.{header}", f"{target} is mapped from {seen[target]} too"))
        seen[target] = header
    key_target = "email" if match_key == "EMAIL" else "externalId"
    if mapping and key_target not in seen:
        violations.append(FieldViolation("columnMapping", f"map a column to {key_target}: rows are matched by it"))
    if "ownerId" in seen and not principal.has_scope(ASSIGN_SCOPE):
        violations.append(FieldViolation(f"columnMapping.{seen['ownerId']}", f"needs the {ASSIGN_SCOPE} scope"))
    return violations


def columns_of(header: list[str], mapping: Mapping[str, str]) -> list[Column]:
    positions = {name.strip(): i for i, name in enumerate(header)}
    missing = [name for name in mapping if name.strip() not in positions]
    if missing:
        raise MalformedFile(f"the header has no column {', '.join(repr(m) for m in sorted(missing))}")
    columns = []
    for name, target in mapping.items():
        attribute = (
            "custom_fields." + target.removeprefix(CUSTOM_PREFIX)
            if target.startswith(CUSTOM_PREFIX)
            else TARGETS[target]
        )
        columns.append(Column(positions[name.strip()], attribute))
    return columns


def check_row(
    number: int, cells: list[str], columns: list[Column], width: int, match_key: str, schema: Schema | None = None
) -> CheckedRow | list[tuple[str, str]]:
    """The row's normalised values, or its problems as (API field, message)."""
    if len(cells) != width:
        return [("", f"has {len(cells)} columns; the header has {width}")]
    given: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for column in columns:
        cell = cells[column.index].strip()
        if not cell:
            continue
        if column.attribute.startswith("custom_fields."):
            key = column.attribute.removeprefix("custom_fields.")
            custom[key] = custom_fields.from_text((schema or {}).get(key), cell)
        elif column.attribute in LIST_FIELDS:
            given[column.attribute] = tuple(part.strip() for part in cell.split(";") if part.strip())
        elif column.attribute == "lifecycle_stage":
            given[column.attribute] = cell.upper().replace(" ", "_")
        else:
            given[column.attribute] = cell
    if custom:
        given["custom_fields"] = custom
    key_attribute = KEY_FIELD[match_key]
    if not given.get(key_attribute):
        return [(_api_name(key_attribute), "is empty; rows are matched by it")]
    try:
        # The same checks and normalisation as every other write of a contact.
        # Whether the row creates or updates is known only when it is applied, so required custom
        # fields and the identity rule are checked then; types and unknown keys are checked here.
        normalised = domain.normalise(ContactFields(**given), schema, ContactFields(), require_identity=False)
    except InvalidArgument as exc:
        return [(_api_name(v.field), v.description) for v in exc.violations]
    values = {name: getattr(normalised, name) for name in given}
    key = values[key_attribute].lower() if key_attribute == "email" else values[key_attribute]
    return CheckedRow(number, key, values)


def merge(current: ContactFields, values: Mapping[str, Any]) -> ContactFields:
    """An existing contact with a row's values: the fields the row sets, custom fields key by key."""
    changes = dict(values)
    if "custom_fields" in changes:
        changes["custom_fields"] = {**current.custom_fields, **changes["custom_fields"]}
    return replace(current, **changes)


def _api_name(path: str) -> str:
    head, dot, rest = path.partition(".")
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), head) + dot + rest


def read_csv(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The records of a UTF-8 CSV given in pieces; MalformedFile for bad UTF-8 or CSV syntax."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")

    def lines() -> Iterator[str]:
        carry = ""
        try:
            for piece in chunks:
                text = carry + decoder.decode(piece)
                parts = text.split("\n")
                carry = parts.pop()
                for part in parts:
                    yield part + "\n"
            carry += decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise MalformedFile(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start} of a chunk)") from None
        if carry:
            yield carry

    reader = csv.reader(lines(), strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise MalformedFile(f"the file is not valid CSV near line {reader.line_num}: {exc}") from None


class ImportJobs:
    """The job's API side: create, upload, start, cancel, read."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(
        self, principal: Principal, mapping: Mapping[str, str], match_key: str, allow_partial: bool, validate_only: bool
    ) -> ImportJobRow:
        if principal.own_records_only:
            raise PermissionDenied("bulk import is not available to callers limited to their own records")
        match_key = match_key or "EMAIL"
        violations = check_mapping(mapping, match_key, principal)
        if violations:
            raise InvalidArgument.of(violations)
        now = self.clock()
        job = ImportJobRow(
            id=new_id(),
            tenant_id=principal.tenant_id,
            created_by=principal.subject[:200],
            state=UPLOADING,
            column_mapping=dict(mapping),
            match_key=match_key,
            allow_partial=allow_partial,
            validate_only=validate_only,
            chunks_received=0,
            bytes_received=0,
            chunk_count=0,
            rows_total=0,
            rows_processed=0,
            rows_created=0,
            rows_updated=0,
            rows_failed=0,
            progress_percent=0,
            applied_through=0,
            error_message="",
            lease_until=None,
            create_time=now,
            update_time=now,
        )
        with self.database.transaction() as session:
            session.add(job)
        return job

    def upload_chunk(self, principal: Principal, job_id: str, sequence: int, data: bytes) -> ImportJobRow:
        violations = []
        if sequence < 0 or sequence >= MAX_CHUNKS:
            violations.append(FieldViolation("sequence", f"from 0 to {MAX_CHUNKS - 1}"))
        if not data:
            violations.append(FieldViolation("data", "must not be empty"))
        if len(data) > MAX_CHUNK_BYTES:
            violations.append(FieldViolation("data", f"at most {MAX_CHUNK_BYTES} bytes per chunk"))
        if violations:
            raise InvalidArgument.of(violations)
        digest = hashlib.sha256(data).hexdigest()
        with self.database.transaction() as session:
            job = self._job(session, principal, job_id, for_update=True)
            known = import_store.chunk_digest(session, job_id, sequence)
            if known == digest:  # a re-send (e.g. after a lost answer): already there
                return job
            if known is not None:
                raise FailedPrecondition(f"chunk {sequence} was uploaded with different content")
            if job.state != UPLOADING:
                raise FailedPrecondition(f"the job is {job.state}; chunks are accepted only while UPLOADING")
            import_store.put_chunk(session, job_id, sequence, digest, data)
            job.chunks_received += 1
            job.bytes_received += len(data)
            job.update_time = self.clock()
        return job

    def start(self, principal: Principal, job_id: str, chunk_count: int) -> ImportJobRow:
        with self.database.transaction() as session:
            job = self._job(session, principal, job_id, for_update=True)
            if job.state != UPLOADING:
                if job.state not in (FAILED, CANCELLED) and job.chunk_count == chunk_count:  # a repeated start
                    return job
                raise FailedPrecondition(f"the job is {job.state}; only an UPLOADING job can be started")
            if chunk_count <= 0:
                raise InvalidArgument.of(
                    [FieldViolation("chunk_count", "upload at least one chunk, then give their number")]
                )
            sequences = import_store.chunk_sequences(session, job_id)
            if sequences != list(range(chunk_count)):
                missing = sorted(set(range(chunk_count)) - set(sequences))[:10]
                extra = sorted(set(sequences) - set(range(chunk_count)))[:10]
                detail = f"missing {missing}" if missing else f"unexpected {extra}"
                raise InvalidArgument.of(
                    [FieldViolation("chunk_count", f"chunks 0..{chunk_count - 1} must be uploaded: {detail}")]
                )
            job.chunk_count = chunk_count
            job.state = QUEUED
            job.update_time = self.clock()
        return job

    def cancel(self, principal: Principal, job_id: str) -> ImportJobRow:
        with self.database.transaction() as session:
            job = self._job(session, principal, job_id, for_update=True)
            if job.state == CANCELLED:
                return job
            if job.state not in (UPLOADING, QUEUED, VALIDATING):
                raise FailedPrecondition(
                    f"the job is {job.state}; only a job that has written nothing can be cancelled"
                )
            job.state = CANCELLED
            job.update_time = self.clock()
            import_store.drop_upload(session, job_id)
        return job

    def get(self, principal: Principal, job_id: str) -> ImportJobRow:
        with self.database.transaction() as session:
            return self._job(session, principal, job_id)

    def errors(
        self, principal: Principal, job_id: str, requested_size: int, page_token: str
    ) -> tuple[list[ImportErrorRow], str]:
        size = page_size(requested_size)
        scope = f"import-errors:{job_id}"
        after = decode_cursor(page_token, scope)
        if after is not None and not (isinstance(after, list) and len(after) == 2):
            raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")])
        with self.database.transaction() as session:
            self._job(session, principal, job_id)
            found = import_store.errors_page(session, job_id, after, size + 1)
        return page_of(found, size, lambda e: [e.row_number, e.position], scope)

    def _job(self, session: Any, principal: Principal, job_id: str, for_update: bool = False) -> ImportJobRow:
        job = import_store.get_job(session, principal.tenant_id, job_id, for_update=for_update)
        if job is None or principal.own_records_only:
            raise NotFound.resource("import job", job_id)
        return job


class ImportWorker:
    """Runs queued jobs, one at a time per worker; several workers (pods) share the queue by lease."""

    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        *,
        batch_rows: int = 2000,
        lease: dt.timedelta = dt.timedelta(seconds=120),
        poll_seconds: float = 1.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.batch_rows = batch_rows
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.clock = clock

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                worked = self.tick(stop)
            except Exception:  # an outage must not kill the thread; the lease hands the job on
                log.exception("import worker tick failed")
                worked = False
            if not worked:
                stop.wait(self.poll_seconds)

    def tick(self, stop: threading.Event | None = None) -> bool:
        """Take one runnable job and carry it as far as it goes; False when there was none."""
        with self.database.transaction() as session:
            job = import_store.claim_job(session, RUNNABLE, self.clock(), self.lease)
            if job is None:
                return False
            job_id, state = job.id, job.state
        try:
            if state in (QUEUED, VALIDATING):
                state = self._validate(job_id)
            if state == IMPORTING:
                self._apply(job_id, stop)
        except Exception as exc:
            if is_unavailable(exc) or is_conflict(exc):
                # The database is away, or a concurrent write took a key first: the lease runs out
                # and the job resumes from its last whole batch (which then sees that write).
                raise
            log.exception("import job %s failed", job_id)
            self._fail_unexpectedly(job_id)
        return True

    def _fail_unexpectedly(self, job_id: str) -> None:
        """A bug, not an outage: retrying would fail the same way forever, so the job ends, saying
        how far it got (whole batches only)."""
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state in FINISHED:
                return
            written = job.rows_created + job.rows_updated
            done = (
                f"rows up to {job.applied_through} were imported ({written} contacts)"
                if written
                else "nothing was imported"
            )
            import_store.drop_upload(session, job_id)
            job.state, job.lease_until = FAILED, None
            job.error_message = f"internal error; {done}"
            job.update_time = self.clock()

    def run_until_idle(self) -> int:
        """Every runnable job to its end (tests, bench, the embedded target's first start)."""
        done = 0
        while self.tick():
            done += 1
        return done

    # Phase 1 -----------------------------------------------------------------------------------

    def _validate(self, job_id: str) -> str:
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state not in (QUEUED, VALIDATING):
                return job.state if job else FAILED
            # A validation that a crash interrupted starts over: it wrote nothing but staging.
            import_store.clear_work(session, job_id)
            job.state, job.rows_processed, job.rows_failed, job.rows_total = VALIDATING, 0, 0, 0
            job.progress_percent, job.error_message = 0, ""
            tenant_id, mapping, match_key = job.tenant_id, dict(job.column_mapping), job.match_key
            chunk_count, total_bytes = job.chunk_count, max(job.bytes_received, 1)
            allow_partial, validate_only = job.allow_partial, job.validate_only
            schema = schema_of(session, tenant_id, "CONTACT")
        consumed = [0]

        def chunks() -> Iterator[bytes]:
            for piece in import_store.iter_chunks(self.database.transaction, job_id, range(chunk_count)):
                consumed[0] += len(piece)
                yield piece

        seen: dict[str, int] = {}
        seen_external: dict[str, int] = {}  # external ids are unique too, whatever the match key
        staged: list[CheckedRow] = []
        errors: list[tuple[int, int, str, str]] = []
        counts = {"total": 0, "failed": 0, "errors": 0}
        try:
            records = read_csv(chunks())
            header = next(records, None)
            if header is None or not any(name.strip() for name in header):
                raise MalformedFile("the file is empty (no header line)")
            columns = columns_of(header, mapping)
            width = len(header)
            key_name = _api_name(KEY_FIELD[match_key])
            number = 0
            for cells in records:
                if not any(cell.strip() for cell in cells):
                    continue  # blank lines are not rows
                number += 1
                checked = check_row(number, cells, columns, width, match_key, schema)
                if isinstance(checked, CheckedRow) and checked.key in seen:
                    checked = [(key_name, f"the same as row {seen[checked.key]}; a contact may appear once per file")]
                external = checked.values.get("external_id") if isinstance(checked, CheckedRow) else None
                if external and match_key == "EMAIL" and external in seen_external:
                    checked = [("externalId", f"the same as row {seen_external[external]}; external ids are unique")]
                if isinstance(checked, CheckedRow):
                    seen[checked.key] = number
                    if external:
                        seen_external[external] = number
                    staged.append(checked)
                else:
                    self._fail_row(errors, counts, number, checked)
                counts["total"] = number
                if len(staged) >= self.batch_rows * 2:
                    if not self._stage(job_id, tenant_id, match_key, staged, errors, counts, consumed[0], total_bytes):
                        return CANCELLED
                    staged, errors = [], []
            if not self._stage(job_id, tenant_id, match_key, staged, errors, counts, consumed[0], total_bytes):
                return CANCELLED
        except MalformedFile as exc:
            return self._finish(job_id, FAILED, f"{exc}; nothing was imported")
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state != VALIDATING:
                return job.state if job else FAILED
            job.rows_total, job.rows_failed = counts["total"], counts["failed"]
            job.update_time = self.clock()
        if counts["total"] == 0:
            return self._finish(job_id, FAILED, "the file has a header but no rows; nothing was imported")
        if validate_only:
            return self._finish(job_id, SUCCEEDED, "")
        if counts["failed"] and not allow_partial:
            message = f"{counts['failed']} of {counts['total']} rows have errors (see the errors); nothing was imported"
            return self._finish(job_id, FAILED, message)
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state != VALIDATING:
                return job.state if job else FAILED
            job.state, job.rows_processed, job.progress_percent = IMPORTING, 0, 50
            job.lease_until = self.clock() + self.lease
        return IMPORTING

    def _fail_row(
        self,
        errors: list[tuple[int, int, str, str]],
        counts: dict[str, int],
        number: int,
        problems: list[tuple[str, str]],
    ) -> None:
        counts["failed"] += 1
        for position, (field, message) in enumerate(problems):
            if counts["errors"] < MAX_ERRORS:
                errors.append((number, position, field, message))
                counts["errors"] += 1

    def _stage(
        self,
        job_id: str,
        tenant_id: str,
        match_key: str,
        rows: list[CheckedRow],
        errors: list[tuple[int, int, str, str]],
        counts: dict[str, int],
        consumed: int,
        total_bytes: int,
    ) -> bool:
        """Stage checked rows and record errors, with the job's progress; False once cancelled."""
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state != VALIDATING:
                return False
            if match_key == "EXTERNAL_ID":
                # A row that creates a contact must say who it is (an update keeps the contact's).
                known = import_store.existing_keys(session, tenant_id, match_key, [r.key for r in rows])
                anonymous = [
                    r for r in rows if r.key not in known and not domain.has_identity(ContactFields(**r.values))
                ]
                for row in anonymous:
                    self._fail_row(
                        errors, counts, row.number, [("givenName", "a new contact needs a name, email or phone")]
                    )
                if anonymous:
                    dropped = {r.number for r in anonymous}
                    rows = [r for r in rows if r.number not in dropped]
            import_store.stage(session, job_id, [(r.number, r.key, _jsonable(r.values)) for r in rows])
            import_store.add_errors(session, job_id, errors)
            job.rows_processed, job.rows_failed = counts["total"], counts["failed"]
            job.progress_percent = min(49, consumed * 50 // total_bytes)
            job.update_time = self.clock()
            job.lease_until = self.clock() + self.lease
        return True

    # Phase 2 -----------------------------------------------------------------------------------

    def _apply(self, job_id: str, stop: threading.Event | None) -> None:
        while stop is None or not stop.is_set():
            if not self._apply_batch(job_id):
                return

    def _apply_batch(self, job_id: str) -> bool:
        """Write the next batch; False when the job is done (or no longer importing)."""
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state != IMPORTING:
                return False
            batch = import_store.staged_after(session, job_id, job.applied_through, self.batch_rows)
            if not batch:
                self._complete(session, job)
                return False
            now = self.clock()
            existing = import_store.contacts_by_key(session, job.tenant_id, job.match_key, [k for _, k, _ in batch])
            # Matched by email, a row may set an external id another contact already has.
            owners = {}
            if job.match_key == "EMAIL":
                wanted = [v["external_id"] for _, _, v in batch if v.get("external_id")]
                owners = import_store.external_id_owners(session, job.tenant_id, wanted)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            written: list[Contact] = []
            changed: list[Contact] = []
            errors: list[tuple[int, int, str, str]] = []
            failed = 0
            schema = schema_of(session, job.tenant_id, "CONTACT")
            linked = [a for _, _, v in batch for a in _from_json(v).get("account_ids", ())]
            accounts = store_accounts.existing_account_ids(session, job.tenant_id, linked)
            for number, key, values in batch:
                values = _from_json(values)
                row = existing.get(key)
                unknown = [a for a in values.get("account_ids", ()) if a not in accounts]
                if unknown:
                    failed += 1
                    errors.append((number, 0, "accountIds", f"no account {unknown[0]}"))
                    continue
                owner = owners.get(values.get("external_id", ""))
                if owner is not None and (row is None or row.id != owner):
                    failed += 1
                    errors.append((number, 0, "externalId", f"already used by contact {owner}"))
                    continue
                if row is None:
                    try:
                        data = domain.normalise(ContactFields(**values), schema, contact_points_normalised=True)
                    except InvalidArgument as exc:  # e.g. a required custom field the row lacks
                        failed += 1
                        errors += [(number, i, _api_name(v.field), v.description) for i, v in enumerate(exc.violations)]
                        continue
                    contact_id = new_id()
                    contact = Contact(
                        contact_id, job.tenant_id, data, now, now, domain.compute_etag(contact_id, data, now)
                    )
                    inserts.append(import_store.column_values(contact, store.search_text(session, contact)))
                    changed.append(contact)
                    # A later row of the file with the same key (cannot happen: in-file duplicates
                    # are refused) would still find this one.
                else:
                    current = import_store.to_domain(session, row)
                    try:
                        data = domain.normalise(
                            merge(current.data, values), schema, current.data, contact_points_normalised=True
                        )
                    except InvalidArgument as exc:  # e.g. custom fields over the limit once merged
                        failed += 1
                        errors += [(number, i, _api_name(v.field), v.description) for i, v in enumerate(exc.violations)]
                        continue
                    if data == current.data:
                        written.append(current)
                        continue
                    contact = replace(
                        current, data=data, update_time=now, etag=domain.compute_etag(current.id, data, now)
                    )
                    updates.append(import_store.column_values(contact, store.search_text(session, contact)))
                    changed.append(contact)
                written.append(contact)
            import_store.insert_contacts(session, inserts)
            import_store.update_contacts(session, updates)
            # After the contacts rows (associations reference them); new contacts have none to replace.
            fresh = {row["id"] for row in inserts}
            store.write_associations_of(session, [c for c in changed if c.id in fresh], new=True)
            store.write_associations_of(session, [c for c in changed if c.id not in fresh])
            # Blocking keys of the duplicate finder, as every other write files them (ADR 36); a new
            # contact has none to replace, so only the updated ones cost a DELETE.
            dedup_store.file_keys(session, [c for c in changed if c.id in fresh], new=True)
            dedup_store.file_keys(session, [c for c in changed if c.id not in fresh])
            import_store.add_errors(session, job_id, errors)
            if written:
                self.outbox.add(session, contacts_imported(job_id, written), tenant_id=job.tenant_id, subject=job_id)
            job.applied_through = batch[-1][0]
            job.rows_created += len(inserts)
            job.rows_updated += len(written) - len(inserts)
            job.rows_failed += failed
            job.rows_processed += len(batch)
            good = max(job.rows_total - job.rows_failed + failed, 1)
            job.progress_percent = min(99, 50 + job.rows_processed * 50 // good)
            job.update_time = now
            job.lease_until = now + self.lease
        return True

    def _complete(self, session: Any, job: ImportJobRow) -> None:
        import_store.drop_upload(session, job.id)
        job.state, job.progress_percent, job.lease_until = SUCCEEDED, 100, None
        job.update_time = self.clock()

    def _finish(self, job_id: str, state: str, message: str) -> str:
        with self.database.transaction() as session:
            job = session.get(ImportJobRow, job_id, with_for_update=True)
            if job is None or job.state in FINISHED:
                return job.state if job else FAILED
            import_store.drop_upload(session, job_id)  # staged rows and the file; errors stay
            job.state, job.error_message, job.lease_until = state, message[:1000], None
            job.progress_percent = 100
            job.update_time = self.clock()
        return state


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _from_json(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if k in LIST_FIELDS else v for k, v in values.items()}
