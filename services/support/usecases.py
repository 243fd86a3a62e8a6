"""Support use cases: each one transaction of domain rules, store and outbox."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, Validator
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.support import events, store
from services.support.domain import agents as agent_rules
from services.support.domain import articles as kb
from services.support.domain import metrics, routing, sla
from services.support.domain import surveys as survey_rules
from services.support.domain import tickets as rules
from services.support.domain.agents import Agent, AgentFields, Group
from services.support.domain.articles import Article, ArticleFields, Category
from services.support.domain.business_hours import parse_calendar
from services.support.domain.surveys import Survey
from services.support.domain.tickets import Comment, HistoryEntry, Ticket, TicketFields

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundEmail:
    """What support needs of a captured email (from integrations' InboundEmailReceived)."""

    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    from_address: str
    support_address: str
    subject: str
    text_body: str


@dataclass(frozen=True)
class TicketView:
    """A ticket as Get/Create/Update answer it: with its history and SLA clock."""

    ticket: Ticket
    history: list[HistoryEntry]
    sla: sla.SlaState


class TicketChanges:
    """What one transaction did to tickets: history entries and events, written together."""

    def __init__(self, session: Session, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox

    def emit(self, ticket: Ticket, message: Message) -> None:
        self.outbox.add(self.session, message, tenant_id=ticket.tenant_id, subject=ticket.id)

    def note(self, ticket: Ticket, kind: str, actor: str, message: str, now: dt.datetime) -> None:
        store.add_history(self.session, ticket, [HistoryEntry(now, kind, actor, message)])

    def added(self, ticket: Ticket) -> None:
        store.add_ticket(self.session, ticket)
        self.tick_sla(None, ticket)

    def tick_sla(self, before: Ticket | None, after: Ticket) -> sla.SlaState:
        """Move the ticket's SLA clock after a change; a target met late is a breach now."""
        session, tenant_id = self.session, after.tenant_id
        state = store.sla_state(session, tenant_id, after.id) if before else sla.SlaState()
        if before is None or before.data.customer_tier != after.data.customer_tier or not state.policy_id:
            policy = store.policy_for_tier(session, tenant_id, after.data.customer_tier)
        else:
            policy = store.get_policy(session, tenant_id, state.policy_id)
        now = after.update_time
        if before is not None:
            met = []
            if before.first_response_time is None and after.first_response_time is not None:
                met.append(sla.FIRST_RESPONSE)
            if before.status in sla.RUNNING_STATUSES and after.status in ("SOLVED", "CLOSED"):
                met.append(sla.RESOLUTION)
            fired = store.fired_markers(session, after.id)
            for target in met:
                alert = sla.late(state, target, now)
                if alert and (target, sla.BREACH) not in fired:
                    self.breached(after, alert, state.policy_id, now, "met after its deadline")
        moved = sla.advance(
            state, policy, after.status, after.data.priority, after.first_response_time is not None, now
        )
        if moved != state or before is None:
            store.save_sla_state(session, tenant_id, after.id, moved)
        return moved

    def breached(self, ticket: Ticket, alert: sla.Alert, policy_id: str, now: dt.datetime, why: str) -> None:
        store.add_marker(self.session, ticket, alert, now)
        target = alert.target.lower().replace("_", " ")
        self.note(ticket, "sla_breach", "sla", f"{target} target missed (due {alert.due.isoformat()}): {why}", now)
        self.emit(ticket, events.sla_breached(ticket, alert, policy_id))

    def saved(self, before: Ticket, after: Ticket, changed: Sequence[str], actor: str, reason: str = "") -> None:
        """Persist a changed ticket with one history entry and one event per kind of change."""
        store.save_ticket(self.session, after)
        self.tick_sla(before, after)
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


class Router:
    """Routing inside one transaction. It locks the tenant's agents first (before any ticket), so
    decisions see loads no concurrent transaction can change, and lock order never deadlocks."""

    def __init__(self, changes: TicketChanges, tenant_id: str, now: dt.datetime) -> None:
        self.changes = changes
        self.session = changes.session
        self.tenant_id = tenant_id
        self.now = now
        self.agents = {a.id: a for a in store.lock_agents(self.session, tenant_id)}

    def replace_agent(self, agent: Agent) -> None:
        self.agents[agent.id] = agent

    def candidates(self) -> list[routing.Candidate]:
        loads = store.loads(self.session, self.tenant_id)
        return [
            routing.Candidate(
                a.id,
                frozenset(a.data.skills),
                frozenset(a.data.group_ids),
                a.data.capacity,
                a.data.available,
                loads.get(a.id, 0),
            )
            for a in self.agents.values()
        ]

    def check_references(self, ticket: Ticket) -> None:
        check = Validator()
        if ticket.data.assignee_id and ticket.data.assignee_id not in self.agents:
            check.add("assignee_id", f"no agent {ticket.data.assignee_id}")
        if ticket.data.group_id and store.get_group(self.session, self.tenant_id, ticket.data.group_id) is None:
            check.add("group_id", f"no group {ticket.data.group_id}")
        check.raise_if_any()

    def route(self, ticket: Ticket) -> Ticket:
        """Give an unassigned active ticket to the best agent, or record why it waits."""
        decision = routing.route_ticket(_routable(ticket), self.candidates())
        if not decision.agent_id:
            self.changes.note(ticket, "queued", "routing", decision.reason, self.now)
            return ticket
        return self._assign(ticket, decision)

    def drain(self) -> None:
        """Hand waiting tickets to agents who now have room (most urgent, then oldest, first)."""
        waiting = {t.id: t for t in store.waiting_tickets(self.session, self.tenant_id)}
        if not waiting:
            return
        for decision in routing.plan_queue([_routable(t) for t in waiting.values()], self.candidates()):
            self._assign(waiting[decision.ticket_id], decision)

    def release(self, agent: Agent, why: str) -> list[str]:
        """Send an agent's active tickets back to routing."""
        released = store.active_tickets_of(self.session, self.tenant_id, agent.id)
        for ticket in released:
            queued = rules.assign(ticket, "", "", self.now)
            self.changes.saved(ticket, queued, ["assignee_id"], "routing", why)
            self.route(queued)
        return [t.id for t in released]

    def _assign(self, ticket: Ticket, decision: routing.Decision) -> Ticket:
        assigned = rules.assign(ticket, decision.agent_id, "", self.now)
        self.changes.saved(ticket, assigned, rules.changed_fields(ticket, assigned), "routing", decision.reason)
        return assigned


def _routable(ticket: Ticket) -> routing.Routable:
    data = ticket.data
    return routing.Routable(ticket.id, data.group_id, frozenset(data.required_skills), data.priority)


def _frees_capacity(before: Ticket, after: Ticket) -> bool:
    had = before.active and before.data.assignee_id
    return bool(had) and (not after.active or after.data.assignee_id != before.data.assignee_id)


def _needs_routing(before: Ticket | None, after: Ticket) -> bool:
    if not after.active or after.data.assignee_id:
        return False
    if before is None or before.data.assignee_id or not before.active:
        return True
    return (before.data.group_id, before.data.required_skills) != (after.data.group_id, after.data.required_skills)


class Surveys:
    """CSAT and NPS surveys. The answer is authorised by the signed token alone (ADR 0020): its
    tenant and survey come from the token, never from the caller."""

    def __init__(self, database: Database, outbox: Outbox, secret: str = "", clock: Clock = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self._secret = secret  # empty: the key the migration generated, read once

    def signing_key(self, session: Session) -> str:
        if not self._secret:
            self._secret = store.secret(session, store.SURVEY_KEY)
        return self._secret

    def issue_csat(self, session: Session, ticket: Ticket, now: dt.datetime) -> Survey:
        """A CSAT survey for a ticket just solved, in the solving transaction, with its event."""
        data = ticket.data
        survey = survey_rules.new_survey(
            new_id(),
            ticket.tenant_id,
            survey_rules.CSAT,
            data.requester_id,
            now,
            ticket.id,
            data.assignee_id,
            data.group_id,
        )
        self._add(session, survey)
        return survey

    def create(self, principal: Principal, kind: str, requester_id: str) -> tuple[Survey, str]:
        if kind not in ("", survey_rules.NPS):
            raise InvalidArgument.of(
                [FieldViolation("kind", "only NPS surveys are created directly; CSAT follows a solve")]
            )
        survey = survey_rules.new_survey(new_id(), principal.tenant_id, survey_rules.NPS, requester_id, self.clock())
        with self.database.transaction() as session:
            token = self._add(session, survey)
        return survey, token

    def get(self, principal: Principal, survey_id: str) -> tuple[Survey, str]:
        with self.database.transaction() as session:
            survey = store.get_survey(session, principal.tenant_id, survey_id)
            if survey is None:
                raise NotFound.resource("survey", survey_id)
            return survey, survey_rules.sign(survey, self.signing_key(session))

    def submit(self, token: str, score: int | None, comment: str) -> Survey:
        now = self.clock()
        with self.database.transaction() as session:
            claims = survey_rules.verify(token, self.signing_key(session), now)
            survey = store.get_survey(session, claims.tenant_id, claims.survey_id, for_update=True)
            if survey is None or survey.ticket_id != claims.ticket_id:
                raise NotFound.resource("survey", claims.survey_id)
            answered, new = survey_rules.answer(survey, score, comment, now)
            if new:
                store.save_answer(session, answered)
                self.outbox.add(
                    session, events.survey_answered(answered), tenant_id=survey.tenant_id, subject=survey.id
                )
            return answered

    def _add(self, session: Session, survey: Survey) -> str:
        store.add_survey(session, survey)
        token = survey_rules.sign(survey, self.signing_key(session))
        self.outbox.add(session, events.survey_created(survey, token), tenant_id=survey.tenant_id, subject=survey.id)
        return token


class Tickets:
    def __init__(
        self, database: Database, outbox: Outbox, clock: Clock = utcnow, surveys: Surveys | None = None
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.surveys = surveys or Surveys(database, outbox, clock=clock)

    def create(self, principal: Principal, data: TicketFields) -> TicketView:
        now = self.clock()
        ticket = rules.new_ticket(new_id(), principal.tenant_id, data, now)
        with self.database.transaction() as session:
            return self._view(session, self._create(session, ticket, principal.subject, now))

    def _create(self, session: Session, ticket: Ticket, actor: str, now: dt.datetime) -> Ticket:
        changes = TicketChanges(session, self.outbox)
        router = Router(changes, ticket.tenant_id, now)
        router.check_references(ticket)
        if ticket.data.assignee_id:  # assigned by hand: routing stays out of it
            ticket = rules.assign(ticket, ticket.data.assignee_id, "", now)
        changes.added(ticket)
        changes.note(ticket, "created", actor, f"created via {ticket.data.channel}", now)
        changes.emit(ticket, events.ticket_created(ticket))
        if ticket.data.assignee_id:
            changes.note(ticket, "assigned", actor, f"assigned to agent {ticket.data.assignee_id}", now)
            return ticket
        return router.route(ticket)

    def receive_email(self, session: Session, tenant_id: str, mail: InboundEmail) -> str:
        """Open a ticket from an email, or thread it onto the ticket it answers (by In-Reply-To or
        References matching a ticket's external_thread_id or a comment's external_message_id).
        Idempotent by Message-ID: a message already on a ticket changes nothing. Answers the ticket id."""
        now = self.clock()
        known = store.ticket_of_message(session, tenant_id, [mail.message_id])
        if known is not None:
            return known[0]
        answered = store.ticket_of_message(
            session, tenant_id, [m for m in (mail.in_reply_to, *reversed(mail.references)) if m]
        )
        ticket = store.get_ticket(session, tenant_id, answered[0], for_update=True) if answered else None
        if ticket is None or ticket.status == "CLOSED":
            data = TicketFields(
                subject=(mail.subject.strip() or "(no subject)")[: rules.MAX_SUBJECT],
                description=mail.text_body[: rules.MAX_DESCRIPTION],
                channel="EMAIL",
                external_thread_id=mail.message_id,
            )
            ticket = self._create(session, rules.new_ticket(new_id(), tenant_id, data, now), "email", now)
            store.save_email_thread(
                session,
                tenant_id,
                store.EmailThread(ticket.id, mail.from_address, mail.support_address, (mail.message_id,)),
                now,
            )
            return ticket.id
        comment = rules.new_comment(
            new_id(),
            ticket,
            mail.text_body or "(empty message)",
            "PUBLIC",
            "REQUESTER",
            ticket.data.requester_id or mail.from_address,
            mail.message_id,
            mail.in_reply_to,
            now,
        )
        store.add_comment(session, comment)
        thread = store.email_thread(session, tenant_id, ticket.id)
        if thread is not None:
            thread = store.EmailThread(
                thread.ticket_id,
                thread.requester_address,
                thread.support_address,
                (*thread.message_ids, mail.message_id),
            )
            store.save_email_thread(session, tenant_id, thread, now)
        changes = TicketChanges(session, self.outbox)
        changes.emit(ticket, events.comment_added(comment, ticket, thread))
        if ticket.status in ("PENDING", "SOLVED"):  # the customer answered: back to work
            reopened = rules.transition(ticket, "OPEN", now)
            changes.saved(ticket, reopened, ["status"], "email")
        return ticket.id

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
            changes = TicketChanges(session, self.outbox)
            router = Router(changes, principal.tenant_id, now)
            current = self._ticket(session, principal, ticket_id, for_update=True)
            rules.check_etag(current, etag)
            updated, changed = rules.apply_update(current, patch, mask, now)
            if changed:
                router.check_references(updated)
                changes.saved(current, updated, changed, principal.subject)
                if updated.status == "SOLVED" and current.status != "SOLVED":
                    self.surveys.issue_csat(session, updated, now)
                updated = self._reroute(router, current, updated)
            return self._view(session, updated)

    def close(self, principal: Principal, ticket_id: str, etag: str) -> TicketView:
        now = self.clock()
        with self.database.transaction() as session:
            changes = TicketChanges(session, self.outbox)
            router = Router(changes, principal.tenant_id, now)
            current = self._ticket(session, principal, ticket_id, for_update=True)
            rules.check_etag(current, etag)
            closed = rules.transition(current, "CLOSED", now)
            changes.saved(current, closed, ["status"], principal.subject)
            self._reroute(router, current, closed)
            return self._view(session, closed)

    @staticmethod
    def _reroute(router: Router, before: Ticket, after: Ticket) -> Ticket:
        if _needs_routing(before, after):
            after = router.route(after)
        if _frees_capacity(before, after):
            router.drain()
        return after

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
            thread = store.email_thread(session, ticket.tenant_id, ticket.id)
            if thread is not None and comment.visibility == "PUBLIC" and comment.author_type == "AGENT":
                # Goes out as email (integrations sends it): its Message-ID is fixed here so the
                # customer's answer threads back onto this ticket.
                if not comment.external_message_id:
                    domain = thread.support_address.rpartition("@")[2] or "support.invalid"
                    comment = replace(comment, external_message_id=f"comment-{comment.id}@{domain}")
                if not comment.in_reply_to and thread.message_ids:
                    comment = replace(comment, in_reply_to=thread.message_ids[-1])
            store.add_comment(session, comment)
            if thread is not None and comment.external_message_id:
                grown = (*thread.message_ids, comment.external_message_id)
                store.save_email_thread(session, ticket.tenant_id, replace(thread, message_ids=grown), now)
            changes = TicketChanges(session, self.outbox)
            changes.emit(ticket, events.comment_added(comment, ticket, thread))
            responded = rules.record_first_response(ticket, comment)
            if responded is not ticket:
                store.save_ticket(session, responded)
                changes.tick_sla(ticket, responded)
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
        return TicketView(
            ticket,
            store.history(session, ticket.tenant_id, ticket.id),
            store.sla_state(session, ticket.tenant_id, ticket.id),
        )


@dataclass(frozen=True)
class AgentView:
    agent: Agent
    load: int


class Agents:
    def __init__(self, database: Database, outbox: Outbox, clock: Clock = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, data: AgentFields) -> AgentView:
        now = self.clock()
        agent = agent_rules.new_agent(new_id(), principal.tenant_id, data, now)
        with self.database.transaction() as session:
            router = Router(TicketChanges(session, self.outbox), principal.tenant_id, now)
            self._check_groups(session, agent)
            store.add_agent(session, agent)
            router.replace_agent(agent)
            router.drain()
            return self._view(session, agent)

    def get(self, principal: Principal, agent_id: str) -> AgentView:
        with self.database.transaction() as session:
            return self._view(session, self._agent(session, principal, agent_id))

    def list(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[AgentView], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "agents")
        with self.database.transaction() as session:
            found = store.agent_page(session, principal.tenant_id, after, size + 1)
            loads = store.loads(session, principal.tenant_id)
        views = [AgentView(a, loads.get(a.id, 0)) for a in found]
        return page_of(views, size, lambda v: v.agent.id, "agents")

    def update(
        self, principal: Principal, agent_id: str, patch: AgentFields, mask: Sequence[str], etag: str
    ) -> AgentView:
        now = self.clock()
        with self.database.transaction() as session:
            changes = TicketChanges(session, self.outbox)
            router = Router(changes, principal.tenant_id, now)
            current = router.agents.get(agent_id)
            if current is None:
                raise NotFound.resource("agent", agent_id)
            agent_rules.check_agent_etag(current, etag)
            updated, changed = agent_rules.apply_agent_update(current, patch, mask, now)
            if not changed:
                return self._view(session, current)
            self._check_groups(session, updated)
            store.save_agent(session, updated)
            router.replace_agent(updated)
            released: list[str] = []
            if current.data.available and not updated.data.available:
                released = router.release(updated, f"agent {agent_id} became unavailable")
            if updated.data.available:
                router.drain()
            if "available" in changed:
                self.outbox.add(
                    session,
                    events.agent_availability_changed(updated, released),
                    tenant_id=updated.tenant_id,
                    subject=updated.id,
                )
            return self._view(session, updated)

    def create_group(self, principal: Principal, name: str, description: str) -> Group:
        group = agent_rules.new_group(new_id(), principal.tenant_id, name, description, self.clock())
        with self.database.transaction() as session:
            store.add_group(session, group)
        return group

    def get_group(self, principal: Principal, group_id: str) -> Group:
        with self.database.transaction() as session:
            group = store.get_group(session, principal.tenant_id, group_id)
        if group is None:
            raise NotFound.resource("group", group_id)
        return group

    def list_groups(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Group], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "groups")
        with self.database.transaction() as session:
            found = store.group_page(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda g: g.id, "groups")

    def _agent(self, session: Session, principal: Principal, agent_id: str) -> Agent:
        agent = store.get_agent(session, principal.tenant_id, agent_id)
        if agent is None:
            raise NotFound.resource("agent", agent_id)
        return agent

    @staticmethod
    def _check_groups(session: Session, agent: Agent) -> None:
        check = Validator()
        for group_id in agent.data.group_ids:
            if store.get_group(session, agent.tenant_id, group_id) is None:
                check.add("group_ids", f"no group {group_id}")
        check.raise_if_any()

    @staticmethod
    def _view(session: Session, agent: Agent) -> AgentView:
        return AgentView(agent, store.loads(session, agent.tenant_id).get(agent.id, 0))


class SlaPolicies:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(
        self,
        principal: Principal,
        name: str,
        customer_tier: str,
        calendar: tuple[str, list[tuple[int, str, str]], list[str]],
        targets: dict[str, sla.Target],
        warning_percent: int,
    ) -> sla.SlaPolicy:
        check = Validator()
        try:
            parsed = parse_calendar(*calendar)
        except InvalidArgument as exc:
            check.violations += exc.violations
        try:
            name, tier, percent = sla.validate_policy(name, customer_tier, targets, warning_percent)
        except InvalidArgument as exc:
            check.violations += exc.violations
        check.raise_if_any()
        policy = sla.SlaPolicy(new_id(), principal.tenant_id, name, tier, parsed, targets, percent, self.clock())
        with self.database.transaction() as session:
            if store.policy_with_tier(session, principal.tenant_id, tier) is not None:
                raise AlreadyExists(f"the tier {tier or '(default)'!r} already has an SLA policy")
            store.add_policy(session, policy)
        return policy

    def get(self, principal: Principal, policy_id: str) -> sla.SlaPolicy:
        with self.database.transaction() as session:
            policy = store.get_policy(session, principal.tenant_id, policy_id)
        if policy is None:
            raise NotFound.resource("SLA policy", policy_id)
        return policy

    def list(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[sla.SlaPolicy], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "slaPolicies")
        with self.database.transaction() as session:
            found = store.policy_page(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda p: p.id, "slaPolicies")

    def delete(self, principal: Principal, policy_id: str) -> None:
        with self.database.transaction() as session:
            if not store.delete_policy(session, principal.tenant_id, policy_id):
                raise NotFound.resource("SLA policy", policy_id)


class SlaMonitor:
    """The SLA scheduler: fires near-breach warnings and breaches, and escalates breached tickets.

    Each ticket is handled in its own transaction that locks it (SKIP LOCKED, so replicas share
    the work), re-reads what already fired, and writes the marker, the event, the history entry
    and the escalation together. A restart finds the markers: nothing fires twice, nothing that
    fell due while it was down is missed.
    """

    def __init__(
        self, database: Database, outbox: Outbox, clock: Clock = utcnow, poll_seconds: float = 15.0, batch: int = 200
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch

    def run(self, stop: threading.Event) -> None:
        every(self.poll_seconds, self.tick, "SLA scheduler tick")(stop)

    def tick(self, now: dt.datetime | None = None) -> int:
        """Fire everything due by `now`; the number of warnings and breaches fired."""
        now = now or self.clock()
        with self.database.transaction() as session:
            due = store.tickets_with_alerts_due(session, now, self.batch)
        return sum(self._fire(tenant_id, ticket_id, now) for tenant_id, ticket_id in due)

    def _fire(self, tenant_id: str, ticket_id: str, now: dt.datetime) -> int:
        with self.database.transaction() as session:
            ticket = store.lock_ticket_if_free(session, tenant_id, ticket_id)
            if ticket is None:
                return 0
            state = store.sla_state(session, tenant_id, ticket_id)
            fired = store.fired_markers(session, ticket_id)
            alerts = sla.alerts_due(state, fired, now)
            changes = TicketChanges(session, self.outbox)
            escalate = False
            for alert in alerts:
                if alert.kind == sla.WARNING:
                    store.add_marker(session, ticket, alert, now)
                    target = alert.target.lower().replace("_", " ")
                    changes.note(ticket, "sla_warning", "sla", f"{target} due {alert.due.isoformat()}", now)
                    changes.emit(ticket, events.sla_warning(ticket, alert, state.policy_id))
                    continue
                if (alert.target, sla.WARNING) not in fired:  # the breach makes the warning moot
                    store.add_marker(session, ticket, sla.Alert(alert.target, sla.WARNING, alert.due), now)
                escalate = True
                escalated = rules.raise_priority(ticket, now)
                changes.breached(escalated, alert, state.policy_id, now, "escalated")
            if escalate:
                escalated = rules.raise_priority(ticket, now)
                if escalated is not ticket:
                    changes.saved(ticket, escalated, ["priority"], "sla", "escalated after an SLA breach")
            return len(alerts)


WRITE_SCOPE = "support:write"
SEARCH_DEFAULT, SUGGEST_DEFAULT, SEARCH_MAX = 10, 5, 100


class Articles:
    """The knowledge base. Callers without support:write see only published articles: a draft
    is NOT_FOUND to them, exactly as if it did not exist. Search finds only published articles."""

    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, data: ArticleFields) -> Article:
        article = kb.new_article(new_id(), principal.tenant_id, data, principal.subject, self.clock())
        with self.database.transaction() as session:
            self._check_category(session, article)
            store.add_article(session, article)
        return article

    def get(self, principal: Principal, article_id: str) -> Article:
        with self.database.transaction() as session:
            return self._article(session, principal, article_id)

    def list(
        self, principal: Principal, requested_size: int, page_token: str, filter_text: str
    ) -> tuple[list[Article], str]:
        size = page_size(requested_size)
        equals = kb.parse_filter(filter_text)
        if not principal.has_scope(WRITE_SCOPE):
            if equals.get("status", kb.PUBLISHED) != kb.PUBLISHED:
                return [], ""
            equals["status"] = kb.PUBLISHED
        scope = "articles?" + "&".join(f"{k}={v}" for k, v in sorted(equals.items()))
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            found = store.article_page(session, principal.tenant_id, equals, after, size + 1)
        return page_of(found, size, lambda a: a.id, scope)

    def update(
        self, principal: Principal, article_id: str, patch: ArticleFields, mask: Sequence[str], etag: str
    ) -> Article:
        now = self.clock()
        with self.database.transaction() as session:
            current = self._article(session, principal, article_id, for_update=True)
            kb.check_etag(current, etag)
            updated, changed = kb.apply_update(current, patch, mask, now)
            if changed:
                self._check_category(session, updated)
                store.save_article(session, updated)
            return updated

    def delete(self, principal: Principal, article_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current = self._article(session, principal, article_id, for_update=True)
            kb.check_etag(current, etag)
            store.delete_article(session, principal.tenant_id, article_id)

    def publish(self, principal: Principal, article_id: str, etag: str) -> Article:
        return self._move(principal, article_id, etag, kb.publish)

    def unpublish(self, principal: Principal, article_id: str, etag: str) -> Article:
        return self._move(principal, article_id, etag, kb.unpublish)

    def search(
        self, principal: Principal, q: str, category_id: str, requested_size: int
    ) -> list[tuple[Article, float]]:
        terms = kb.search_terms(q)
        limit = min(requested_size, SEARCH_MAX) if requested_size > 0 else SEARCH_DEFAULT
        with self.database.transaction() as session:
            return store.search_articles(
                session, principal.tenant_id, terms, any_word=False, category_id=category_id.strip(), limit=limit
            )

    def suggest(self, principal: Principal, ticket_id: str, requested_size: int) -> list[tuple[Article, float]]:
        """Published articles for a ticket: any word of its subject or description, best first."""
        limit = min(requested_size, SEARCH_MAX) if requested_size > 0 else SUGGEST_DEFAULT
        with self.database.transaction() as session:
            ticket = store.get_ticket(session, principal.tenant_id, ticket_id)
            if ticket is None:
                raise NotFound.resource("ticket", ticket_id)
            # The subject's words first: when there are more than MAX_TERMS, those are kept.
            text = f"{ticket.data.subject} {ticket.data.description}"
            terms = kb.search_terms(text, required=False)
            return store.search_articles(
                session, principal.tenant_id, terms, any_word=True, category_id="", limit=limit
            )

    def create_category(self, principal: Principal, name: str, description: str) -> Category:
        category = kb.new_category(new_id(), principal.tenant_id, name, description, self.clock())
        with self.database.transaction() as session:
            store.add_category(session, category)
        return category

    def get_category(self, principal: Principal, category_id: str) -> Category:
        with self.database.transaction() as session:
            category = store.get_category(session, principal.tenant_id, category_id)
        if category is None:
            raise NotFound.resource("article category", category_id)
        return category

    def list_categories(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Category], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "articleCategories")
        with self.database.transaction() as session:
            found = store.category_page(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda c: c.id, "articleCategories")

    def _move(
        self, principal: Principal, article_id: str, etag: str, step: Callable[[Article, dt.datetime], Article]
    ) -> Article:
        now = self.clock()
        with self.database.transaction() as session:
            current = self._article(session, principal, article_id, for_update=True)
            kb.check_etag(current, etag)
            moved = step(current, now)
            store.save_article(session, moved)
            return moved

    @staticmethod
    def _article(session: Session, principal: Principal, article_id: str, *, for_update: bool = False) -> Article:
        article = store.get_article(session, principal.tenant_id, article_id, for_update=for_update)
        if article is None or (not article.published and not principal.has_scope(WRITE_SCOPE)):
            raise NotFound.resource("article", article_id)
        return article

    @staticmethod
    def _check_category(session: Session, article: Article) -> None:
        category_id = article.data.category_id
        if category_id and store.get_category(session, article.tenant_id, category_id) is None:
            raise InvalidArgument.of([FieldViolation("category_id", f"no article category {category_id}")])


class SupportMetrics:
    def __init__(self, database: Database) -> None:
        self.database = database

    def report(
        self, principal: Principal, start: dt.datetime | None, end: dt.datetime | None, group_by: str
    ) -> metrics.Report:
        metrics.validate_period(start, end, group_by)
        assert start is not None and end is not None
        with self.database.transaction() as session:
            facts = store.metrics_facts(session, principal.tenant_id, end)
            answers = store.survey_answers(session, principal.tenant_id, start, end)
        return metrics.aggregate(facts, answers, start, end, group_by)
