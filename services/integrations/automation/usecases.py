"""Automation use cases: rules (each one transaction), planning executions from events (in the
consumer's transaction), and the worker that runs their actions (docs/adr/0061, docs/adr/0062)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import Message
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from crmkit import causation, metrics
from crmkit.db import Database, utcnow
from crmkit.errors import NotFound, Validator
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import InternalTokens, Principal, acting_as
from crmkit.updates import apply_mask
from services.integrations.automation import domain as rules
from services.integrations.automation import store
from services.integrations.automation.actions import Performer, ServiceUnavailable, principal_for
from services.integrations.automation.domain import ActionFailed, ActionResult, Execution, Planned, Rule, RuleFields
from services.integrations.webhooks import catalog
from services.integrations.webhooks import store as webhook_store

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)


class Automation:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def _validated(self, principal: Principal, fields: RuleFields) -> RuleFields:
        check = Validator()
        cleaned = rules.validate_fields(fields, catalog.EVENT_TYPES, check)
        webhook_ids = {i: a.webhook_id for i, a in enumerate(cleaned.actions) if a.webhook_id}
        if webhook_ids:
            with self.database.transaction() as session:
                for i, webhook_id in webhook_ids.items():
                    if webhook_store.get_webhook(session, principal.tenant_id, webhook_id) is None:
                        check.add(f"actions[{i}].callWebhook.webhookId", "no webhook subscription with this id")
        check.raise_if_any()
        return cleaned

    def create(self, principal: Principal, fields: RuleFields) -> Rule:
        cleaned = self._validated(principal, fields)
        now = self.clock()
        rule = Rule(new_id(), principal.tenant_id, cleaned, rules.ENABLED, now, now)
        with self.database.transaction() as session:
            store.add_rule(session, rule)
        return rule

    def _existing(self, session: Session, principal: Principal, rule_id: str, lock: bool = False) -> Rule:
        rule = store.get_rule(session, principal.tenant_id, rule_id, for_update=lock)
        if rule is None:
            raise NotFound.resource("automation rule", rule_id)
        return rule

    def get(self, principal: Principal, rule_id: str) -> Rule:
        with self.database.transaction() as session:
            return self._existing(session, principal, rule_id)

    def page(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Rule], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "automationRules")
        with self.database.transaction() as session:
            found = store.rule_page(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda r: r.id, "automationRules")

    def update(self, principal: Principal, rule_id: str, patch: RuleFields, mask: Sequence[str], etag: str) -> Rule:
        with self.database.transaction() as session:
            current = self._existing(session, principal, rule_id, lock=True)
            rules.check_etag(current, etag)
            merged, changed = apply_mask(current.data, patch, mask, lambda f: self._validated(principal, f))
            if not changed:
                return current
            updated = replace(current, data=merged, update_time=self.clock())
            store.save_rule(session, updated)
            return updated

    def delete(self, principal: Principal, rule_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current = self._existing(session, principal, rule_id, lock=True)
            rules.check_etag(current, etag)
            store.delete_rule(session, current)

    def set_state(self, principal: Principal, rule_id: str, state: str) -> Rule:
        with self.database.transaction() as session:
            current = self._existing(session, principal, rule_id, lock=True)
            if current.state == state:
                return current
            updated = replace(current, state=state, update_time=self.clock())
            store.save_rule(session, updated)
            return updated

    def test(self, principal: Principal, rule_id: str, data: Mapping[str, Any]) -> tuple[bool, str, list[Planned]]:
        """Dry run over sample data: (matched, why not or what would stop it, what each action would do)."""
        rule = self.get(principal, rule_id)
        if not rules.matches(rule, rule.data.event_type, data):
            return False, "the condition does not hold for this data", []
        planned: list[Planned] = []
        for action in rule.data.actions:
            try:
                planned.append(rules.plan(action, rule, rule.data.event_type, data))
            except ActionFailed as exc:
                planned.append(Planned(action.type, "", {"error": str(exc)}))
        reason = "" if rule.state == rules.ENABLED else "the rule is disabled: events do not run it"
        return True, reason, planned

    def executions(
        self, principal: Principal, rule_id: str | None, requested_size: int, page_token: str
    ) -> tuple[list[Execution], str]:
        size = page_size(requested_size)
        scope = f"automationExecutions:{rule_id or '*'}"
        before = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            if rule_id is not None:
                self._existing(session, principal, rule_id)
            found = store.execution_page(session, principal.tenant_id, rule_id, before, size + 1)
        return page_of(found, size, lambda e: e.id, scope)

    def execution(self, principal: Principal, execution_id: str) -> Execution:
        with self.database.transaction() as session:
            found = store.get_execution(session, principal.tenant_id, execution_id)
        if found is None:
            raise NotFound.resource("automation execution", execution_id)
        return found


def plan_executions(
    session: Session, envelope: Envelope, message: Message, now: dt.datetime, max_depth: int = rules.MAX_DEPTH
) -> int:
    """One execution per enabled rule the event matches, in the consumer's transaction: PENDING for
    the worker, or SKIPPED with the reason when the rule already ran in the event's causation chain
    (or the chain is too deep). The unique (rule, event) key makes a redelivery add nothing. The
    number of executions written to run."""
    events = catalog.public_events(message)
    if not events:
        return 0
    candidates = store.enabled_rules(session, envelope.tenant, {e.type for e in events})
    if not candidates:
        return 0
    chain = tuple(envelope.causation_chain)
    time_ = envelope.time.ToDatetime(tzinfo=dt.UTC)
    pending = 0
    for index, public in enumerate(events):
        event_id = envelope.id + (f"_{index}" if index else "")
        for rule in candidates:
            if not rules.matches(rule, public.type, public.data):
                continue
            reason = rules.loop_reason(rule.id, chain, max_depth)
            execution = Execution(
                id=new_id(),
                tenant_id=envelope.tenant,
                rule_id=rule.id,
                event_id=event_id,
                event_type=public.type,
                subject_id=rules.subject_id_of(public.type, public.data) or envelope.subject,
                event_data=public.data,
                event_time=time_,
                state=rules.SKIPPED if reason else rules.PENDING,
                reason=reason,
                causation_chain=chain,
                actions=() if reason else tuple(ActionResult(a.type, action=a.as_json()) for a in rule.data.actions),
                attempt_count=0,
                next_attempt_time=None if reason else now,
                create_time=now,
                finish_time=now if reason else None,
            )
            if not store.add_execution(session, execution):
                continue  # planned when this event came the first time
            if reason:
                metrics.AUTOMATION_EXECUTIONS.labels("skipped").inc()
                log.info("automation rule %s skipped for event %s: %s", rule.id, event_id, reason)
            else:
                pending += 1
    return pending


class AutomationWorker:
    """Runs due executions: claims a batch with a lease (SKIP LOCKED) in one transaction, performs
    the actions outside any transaction, records the outcome in another (like webhook deliveries)."""

    def __init__(
        self,
        database: Database,
        performer: Performer,
        tokens: Callable[[], InternalTokens | None],
        poll_seconds: float = 1.0,
        batch: int = 20,
        clock: Clock = utcnow,
    ) -> None:
        self.database = database
        self.performer = performer
        self.tokens = tokens
        self.poll_seconds = poll_seconds
        self.batch = batch
        # Long enough for the whole batch at the worst (every action's call running into its
        # deadline), so that no replica claims an execution while this one is still running it.
        per_call = performer.deadline + 1
        self.lease = dt.timedelta(seconds=batch * rules.MAX_ACTIONS * per_call + 30)
        self.clock = clock
        self.wake = threading.Event()

    def notify_on_commit(self, session: Session) -> None:
        sa_event.listen(session, "after_commit", lambda _s: self.wake.set(), once=True)

    def run(self, stop: threading.Event) -> None:
        try:
            every(self.poll_seconds, self.tick, "automation tick", wake=self.wake, again=bool)(stop)
        finally:
            self.performer.close()

    def tick(self) -> int:
        tokens = self.tokens()
        if tokens is None:  # not started by a target yet (no identity to act with)
            return 0
        now = self.clock()
        with self.database.transaction() as session:
            claimed = store.claim_due(session, now, now + self.lease, self.batch)
            found = {e.rule_id: store.get_rule(session, e.tenant_id, e.rule_id) for e in claimed}
        for execution in claimed:
            rule = found.get(execution.rule_id)
            if rule is None:
                continue  # deleted with its log meanwhile
            self.run_one(tokens, rule, execution)
        return len(claimed)

    def run_one(self, tokens: InternalTokens, rule: Rule, execution: Execution) -> Execution:
        started = execution.start_time or self.clock()
        results = list(execution.actions)
        retry = ""
        chain = (*execution.causation_chain, rule.id)
        # What the rule said when the event triggered it, whatever it was edited into since.
        rule = replace(rule, data=replace(rule.data, actions=rules.planned_actions(rule, results)))
        with acting_as(tokens, principal_for(execution.tenant_id, rule.id)), causation.bound(chain):
            for index, action in enumerate(rule.data.actions):
                if index < len(results) and results[index].outcome != rules.PENDING:
                    continue  # done (or failed for good) on an earlier attempt
                began = time.monotonic()
                try:
                    planned = rules.plan(action, rule, execution.event_type, execution.event_data, execution.event_id)
                    ref = self.performer.perform(execution, index, planned)
                    result = ActionResult(action.type, rules.SUCCEEDED, "", _ms(began), ref, action.as_json())
                except ServiceUnavailable as exc:
                    retry = str(exc)
                    break
                except ActionFailed as exc:
                    result = ActionResult(action.type, rules.FAILED, str(exc)[:2000], _ms(began), "", action.as_json())
                except Exception as exc:  # a bug in one action must not stop the log recording it
                    log.exception("automation action %s of rule %s failed", action.type, rule.id)
                    error = f"internal error: {type(exc).__name__}"
                    result = ActionResult(action.type, rules.FAILED, error, _ms(began), "", action.as_json())
                if index < len(results):
                    results[index] = result
                else:
                    results.append(result)
        return self._record(execution, results, started, retry)

    def _record(self, execution: Execution, results: list[ActionResult], started: dt.datetime, retry: str) -> Execution:
        now = self.clock()
        attempt = execution.attempt_count + 1
        with self.database.transaction() as session:
            current = store.lock_execution(session, execution.id)
            if current is None:
                return execution
            progressed = replace(current, actions=tuple(results), attempt_count=attempt, start_time=started)
            if retry and attempt < rules.MAX_ATTEMPTS:
                updated = replace(progressed, reason=retry, next_attempt_time=now + rules.backoff(attempt))
            elif retry:
                gave_up = [
                    r if r.outcome != rules.PENDING else replace(r, outcome=rules.FAILED, error=retry) for r in results
                ]
                updated = rules.finished(progressed, gave_up, now)
            else:
                updated = rules.finished(progressed, results, now)
            store.save_execution(session, updated)
        metrics.AUTOMATION_EXECUTIONS.labels(
            "retried" if updated.state == rules.PENDING else updated.state.lower()
        ).inc()
        return updated


def _ms(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
