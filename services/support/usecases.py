"""Support use cases: each one transaction of domain rules, store and outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import NotFound
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.support import events, store
from services.support.domain import tickets as rules
from services.support.domain.tickets import Comment, HistoryEntry, Ticket, TicketFields

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class TicketView:
    """A ticket as Get/Create/Update answer it: with its history."""

    ticket: Ticket
    history: list[HistoryEntry]


class TicketChanges:
    """What one transaction did to tickets: history entries and events, written together."""

    def __init__(self, session: Session, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox

    def emit(self, ticket: Ticket, message: Message) -> None:
        self.outbox.add(self.session, message, tenant_id=ticket.tenant_id, subject=ticket.id)

    def note(self, ticket: Ticket, kind: str, actor: str, message: str, now: dt.datetime) -> None:
        store.add_history(self.session, ticket, [HistoryEntry(now, kind, actor, message)])

    def saved(self, before: Ticket, after: Ticket, changed: Sequence[str], actor: str, reason: str = "") -> None:
        """Persist a changed ticket with one history entry and one event per kind of change."""
        store.save_ticket(self.session, after)
        now = after.update_time
        if before.status != after.status:
            self.note(after, "status", actor, f"status {before.status} -> {after.status}", now)
            self.emit(after, events.ticket_status_changed(before, after))
        if before.data.assignee_id != after.data.assignee_id:
            why = reason or f"assigned by {actor}"
            if after.data.assignee_id:
                self.note(after, "assigned", actor, f"assigned to agent {after.data.assignee_id}: {why}", now)
            else:
                self.note(after, "unassigned", actor, f"back to the queue: {why}", now)
            self.emit(after, events.ticket_assigned(before, after, why))
        if before.data.priority != after.data.priority:
            message = f"priority {before.data.priority} -> {after.data.priority}"
            self.note(after, "priority", actor, f"{message}: {reason}" if reason else message, now)
        self.emit(after, events.ticket_updated(after, changed))


class Tickets:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, data: TicketFields) -> TicketView:
        now = self.clock()
        ticket = rules.new_ticket(new_id(), principal.tenant_id, data, now)
        with self.database.transaction() as session:
            store.add_ticket(session, ticket)
            changes = TicketChanges(session, self.outbox)
            changes.note(ticket, "created", principal.subject, f"created via {ticket.data.channel}", now)
            changes.emit(ticket, events.ticket_created(ticket))
            return self._view(session, ticket)

    def get(self, principal: Principal, ticket_id: str) -> TicketView:
        with self.database.transaction() as session:
            return self._view(session, self._ticket(session, principal, ticket_id))

    def list(
        self, principal: Principal, requested_size: int, page_token: str, filter_text: str
    ) -> tuple[list[Ticket], str]:
        size = page_size(requested_size)
        equals = rules.parse_filter(filter_text)
        # The filter is part of the cursor's scope: a token is only valid for the listing that made it.
        scope = "tickets?" + "&".join(f"{k}={v}" for k, v in sorted(equals.items()))
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            found = store.ticket_page(session, principal.tenant_id, equals, after, size + 1)
        return page_of(found, size, lambda t: t.id, scope)

    def update(
        self, principal: Principal, ticket_id: str, patch: TicketFields, mask: Sequence[str], etag: str
    ) -> TicketView:
        now = self.clock()
        with self.database.transaction() as session:
            current = self._ticket(session, principal, ticket_id, for_update=True)
            rules.check_etag(current, etag)
            updated, changed = rules.apply_update(current, patch, mask, now)
            if changed:
                TicketChanges(session, self.outbox).saved(current, updated, changed, principal.subject)
            return self._view(session, updated)

    def close(self, principal: Principal, ticket_id: str, etag: str) -> TicketView:
        now = self.clock()
        with self.database.transaction() as session:
            current = self._ticket(session, principal, ticket_id, for_update=True)
            rules.check_etag(current, etag)
            closed = rules.transition(current, "CLOSED", now)
            TicketChanges(session, self.outbox).saved(current, closed, ["status"], principal.subject)
            return self._view(session, closed)

    def add_comment(
        self,
        principal: Principal,
        ticket_id: str,
        body: str,
        visibility: str,
        author_type: str,
        author_id: str,
        external_message_id: str,
        in_reply_to: str,
    ) -> Comment:
        now = self.clock()
        with self.database.transaction() as session:
            ticket = self._ticket(session, principal, ticket_id, for_update=True)
            comment = rules.new_comment(
                new_id(),
                ticket,
                body,
                visibility,
                author_type,
                author_id or principal.subject,
                external_message_id,
                in_reply_to,
                now,
            )
            store.add_comment(session, comment)
            changes = TicketChanges(session, self.outbox)
            changes.emit(ticket, events.comment_added(comment, ticket))
            responded = rules.record_first_response(ticket, comment)
            if responded is not ticket:
                store.save_ticket(session, responded)
                changes.note(responded, "first_response", principal.subject, "first public reply by an agent", now)
        return comment

    def list_comments(
        self, principal: Principal, ticket_id: str, requested_size: int, page_token: str
    ) -> tuple[list[Comment], str]:
        size = page_size(requested_size)
        scope = f"comments:{ticket_id}"
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            self._ticket(session, principal, ticket_id)
            found = store.comment_page(session, principal.tenant_id, ticket_id, after, size + 1)
        return page_of(found, size, lambda c: c.id, scope)

    def _ticket(self, session: Session, principal: Principal, ticket_id: str, *, for_update: bool = False) -> Ticket:
        ticket = store.get_ticket(session, principal.tenant_id, ticket_id, for_update=for_update)
        if ticket is None:
            raise NotFound.resource("ticket", ticket_id)
        return ticket

    def _view(self, session: Session, ticket: Ticket) -> TicketView:
        return TicketView(ticket, store.history(session, ticket.tenant_id, ticket.id))
