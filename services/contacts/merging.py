"""Duplicate finding and merging use cases: each one transaction of rules, store and outbox.

A merge re-points everything that names a loser through REPOINTERS: functions
`(session, tenant_id, loser_id, winner_id)` run inside the merge's transaction. Modules of the
contacts service that keep contact ids (activities, account associations) append theirs in the
composition root; other services re-point on the ContactsMerged event.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from crm.contacts.v1 import events_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import dedup, dedup_store, domain, store, survivorship
from services.contacts.dedup_store import DuplicatePairRow, DuplicateScanRow
from services.contacts.domain import Contact
from services.contacts.messages import contact_to_proto
from services.contacts.usecases_accounts import schema_of

log = logging.getLogger(__name__)

Repointer = Callable[[Session, str, str, str], None]
# The contacts service's own re-pointers; the composition root passes these plus the others.
REPOINTERS: list[Repointer] = [dedup_store.repoint_redirects, dedup_store.drop_pairs_of]
MAX_LOSERS = 10
MAX_CANDIDATES = 100
ACTOR = "contacts.merge"


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    scored: dedup.Scored


def _threshold(value: float, field: str) -> float:
    if value == 0:
        return dedup.DEFAULT_THRESHOLD
    if not 0 < value <= 1:
        raise InvalidArgument.of([FieldViolation(field, "must be between 0 and 1")])
    return value


def _visible(principal: Principal, contact: Contact | None) -> Contact | None:
    if contact is not None and principal.own_records_only and contact.data.owner_id != principal.subject:
        return None
    return contact


class Merges:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        repointers: Sequence[Repointer] = tuple(REPOINTERS),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.repointers = list(repointers)
        self.clock = clock

    def find_duplicates(
        self, principal: Principal, contact_id: str, threshold: float = 0, limit: int = 0
    ) -> list[Candidate]:
        threshold = _threshold(threshold, "threshold")
        limit = min(limit or 20, MAX_CANDIDATES) if limit >= 0 else 20
        with self.database.transaction() as session:
            target = _visible(principal, store.get(session, principal.tenant_id, contact_id))
            if target is None:
                raise NotFound.resource("contact", contact_id)
            profile = dedup_store.profile_of(target)
            ids = dedup_store.sharing_keys(session, principal.tenant_id, dedup.blocking_keys(profile), 2000)
            rows = dedup_store.contacts_by_id(session, principal.tenant_id, [i for i in ids if i != contact_id])
            others = {r.id: r for r in rows if not principal.own_records_only or r.owner_id == principal.subject}
            ranked = dedup.rank_candidates(
                profile, [dedup_store.profile_of_row(r) for r in others.values()], threshold, limit
            )
            return [Candidate(store._to_domain(others[s.b]), s) for s in ranked]

    def merge(
        self,
        principal: Principal,
        winner_id: str,
        loser_ids: Sequence[str],
        etag: str = "",
        loser_etags: Mapping[str, str] | None = None,
        choices: Mapping[str, str] | None = None,
    ) -> Contact:
        loser_etags, choices = dict(loser_etags or {}), dict(choices or {})
        _check_merge_request(winner_id, loser_ids, loser_etags)
        now = self.clock()
        tenant = principal.tenant_id
        with self.database.transaction() as session:
            # Lock in id order so two merges over the same contacts cannot deadlock.
            locked: dict[str, Contact | None] = {}
            for contact_id in sorted({winner_id, *loser_ids}):
                locked[contact_id] = _visible(principal, store.get(session, tenant, contact_id, for_update=True))
            for contact_id in [winner_id, *loser_ids]:
                if locked[contact_id] is None:
                    redirect = dedup_store.redirect_of(session, tenant, contact_id)
                    if redirect is not None:
                        field = "id" if contact_id == winner_id else "loser_ids"
                        raise FailedPrecondition(
                            f"contact {contact_id} was already merged into {redirect}",
                            [FieldViolation(field, f"{contact_id} was already merged into {redirect}")],
                        )
                    raise NotFound.resource("contact", contact_id)
            winner = locked[winner_id]
            losers = [c for c in (locked[i] for i in loser_ids) if c is not None]
            assert winner is not None and len(losers) == len(loser_ids)
            domain.check_etag(winner, etag)
            for loser in losers:
                domain.check_etag(loser, loser_etags.get(loser.id, ""))
            data, sources = survivorship.survivors(winner, losers, choices)
            data = domain.normalise(data, schema_of(session, tenant, "CONTACT"), winner.data)
            merged = replace(winner, data=data, update_time=now, etag=domain.compute_etag(winner.id, data, now))
            for loser in losers:
                store.delete(session, tenant, loser.id)
                dedup_store.record_merge(
                    session, new_id(), tenant, loser.id, winner.id, principal.subject, sources, now
                )
                for repoint in self.repointers:
                    repoint(session, tenant, loser.id, winner.id)
            store.save(session, merged)
            event = events_pb2.ContactsMerged(
                winner_id=winner.id, loser_ids=list(loser_ids), contact=contact_to_proto(merged)
            )
            self.outbox.add(session, event, tenant_id=tenant, subject=winner.id)
        return merged

    def merged_into(self, principal: Principal, winner_id: str) -> list[dedup_store.ContactMergeRow]:
        with self.database.transaction() as session:
            rows = dedup_store.merges_into(session, principal.tenant_id, winner_id)
            session.expunge_all()
        return rows


def _check_merge_request(winner_id: str, loser_ids: Sequence[str], loser_etags: Mapping[str, str]) -> None:
    problems = []
    if not loser_ids:
        problems.append(FieldViolation("loser_ids", "name at least one contact to merge into this one"))
    if len(loser_ids) > MAX_LOSERS:
        problems.append(FieldViolation("loser_ids", f"at most {MAX_LOSERS} contacts per merge"))
    if winner_id in loser_ids:
        problems.append(FieldViolation("loser_ids", "a contact cannot be merged into itself"))
    if len(set(loser_ids)) != len(loser_ids):
        problems.append(FieldViolation("loser_ids", "names a contact twice"))
    problems += [FieldViolation(f"loser_etags.{i}", "not one of loserIds") for i in loser_etags if i not in loser_ids]
    if problems:
        raise InvalidArgument.of(problems)


# --- tenant-wide scans ---------------------------------------------------------------------------


class DuplicateScans:
    """Scans as a long-running job: created RUNNING, advanced batch by batch by DuplicateScanner."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, threshold: float) -> DuplicateScanRow:
        threshold = _threshold(threshold, "duplicate_scan.threshold")
        now = self.clock()
        with self.database.transaction() as session:
            row = DuplicateScanRow(
                id=new_id(), tenant_id=principal.tenant_id, threshold=threshold, state="RUNNING", phase="INDEXING",
                position="", processed=0, total_contacts=dedup_store.count_contacts(session, principal.tenant_id),
                pairs_found=0, error="", create_time=now, update_time=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            session.expunge(row)
        return row

    def get(self, principal: Principal, scan_id: str) -> DuplicateScanRow:
        with self.database.transaction() as session:
            row = dedup_store.scan(session, principal.tenant_id, scan_id)
            if row is None:
                raise NotFound.resource("duplicate scan", scan_id)
            session.expunge(row)
        return row

    def pairs(
        self, principal: Principal, scan_id: str, requested_size: int, page_token: str
    ) -> tuple[list[DuplicatePairRow], str]:
        size = page_size(requested_size)
        scope = f"duplicatePairs:{scan_id}"
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            if dedup_store.scan(session, principal.tenant_id, scan_id) is None:
                raise NotFound.resource("duplicate scan", scan_id)
            found = dedup_store.pairs_page(session, scan_id, after, size + 1)
            session.expunge_all()
        return page_of(found, size, lambda r: [r.score, r.contact_a, r.contact_b], scope)


class DuplicateScanner:
    """The worker: one batch per transaction, its results and the scan's checkpoint committed
    together, so a crash or restart resumes exactly where the last commit left off."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], dt.datetime] = utcnow,
        poll_seconds: float = 2.0,
        contacts_per_batch: int = 2000,
        blocks_per_batch: int = 2000,
    ) -> None:
        self.database = database
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.contacts_per_batch = contacts_per_batch
        self.blocks_per_batch = blocks_per_batch

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:  # a database outage must not kill the thread; the next step retries
                log.exception("duplicate scan step failed")
                busy = False
            if not busy:
                stop.wait(self.poll_seconds)

    def run_until_idle(self, max_steps: int = 100_000) -> int:
        steps = 0
        while steps < max_steps and self.step():
            steps += 1
        return steps

    def step(self) -> bool:
        """Advance one running scan by one batch; False when none is running."""
        with self.database.transaction() as session:
            scan = dedup_store.lock_running_scan(session)
            if scan is None:
                return False
            try:
                if scan.phase == "INDEXING":
                    self._index(session, scan)
                else:
                    self._compare(session, scan)
            except Exception as exc:
                log.exception("duplicate scan %s failed", scan.id)
                scan.state, scan.error = "FAILED", f"{type(exc).__name__}: {exc}"[:2000]
            scan.update_time = self.clock()
        return True

    def _index(self, session: Session, scan: DuplicateScanRow) -> None:
        rows = dedup_store.contacts_after(session, scan.tenant_id, scan.position, self.contacts_per_batch)
        dedup_store.file_keys(session, [store._to_domain(r) for r in rows])
        scan.processed += len(rows)
        if len(rows) < self.contacts_per_batch:
            scan.phase, scan.position, scan.processed = "COMPARING", "", 0
        else:
            scan.position = rows[-1].id

    def _compare(self, session: Session, scan: DuplicateScanRow) -> None:
        blocks = dedup_store.blocks_after(session, scan.tenant_id, scan.position, self.blocks_per_batch)
        if not blocks:
            scan.state, scan.phase = "SUCCEEDED", "DONE"
            return
        wanted = sorted({i for b in blocks for i in b.contact_ids})
        profiles = {
            r.id: dedup_store.profile_of_row(r) for r in dedup_store.contacts_by_id(session, scan.tenant_id, wanted)
        }
        found: dict[tuple[str, str], dedup.Scored] = {}
        for block in blocks:
            members = [profiles[i] for i in block.contact_ids if i in profiles]
            for x, y in dedup.candidate_pairs(members, max_block=len(members)):
                if (x.id, y.id) not in found and (scored := dedup.score(x, y)).score >= scan.threshold:
                    found[(x.id, y.id)] = scored
        scan.pairs_found += dedup_store.add_pairs(session, scan.id, list(found.values()))
        scan.processed += len(blocks)
        scan.position = blocks[-1].key
