"""Opportunities: use cases (one transaction each, events through the outbox) and their servicer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

import grpc
from crm.sales.v1 import events_pb2, opportunities_pb2, opportunities_pb2_grpc
from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal, current_principal
from services.sales import deal_store as store
from services.sales.contacts_client import ContactsDirectory
from services.sales.deal_messages import opportunity_fields_from_proto, opportunity_to_proto, snapshot
from services.sales.domain import opportunities as rules
from services.sales.domain.leads import Lead
from services.sales.domain.opportunities import Opportunity, OpportunityFields, StageMove
from services.sales.domain.pipelines import LOST, WON, Stage

# An opportunity as answered: with the stage it is in (name, category, probability).
View = tuple[Opportunity, Stage]


# (session, new opportunity id or None) -> an existing opportunity's id (asked with None) or "".
Claim = Callable[[Session, str | None], str]


def _stage_of(session: Session, tenant_id: str, opportunity: Opportunity) -> Stage:
    pipeline = store.get_pipeline(session, tenant_id, opportunity.data.pipeline_id)
    assert pipeline is not None
    stage = pipeline.stage(opportunity.data.stage_id)
    assert stage is not None
    return stage


class Opportunities:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        contacts: ContactsDirectory | None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.contacts = contacts
        self.clock = clock

    def create(self, principal: Principal, data: OpportunityFields, claim: Claim | None = None) -> View:
        """`claim`, when given, runs first in the same transaction: it answers the id of an
        opportunity already opened for the same purpose (nothing is created then), or records the
        new one's id once it is written (a lead conversion's record, ADR 43)."""
        data = self._owned(principal, data)
        data = rules.normalise(data)
        if data.contact_id:
            self._check_contact(data.contact_id)
        now = self.clock()
        with self.database.transaction() as session:
            if claim is not None and (existing := claim(session, None)):
                found = store.get_opportunity(session, principal.tenant_id, existing)
                if found is not None:
                    return found, _stage_of(session, principal.tenant_id, found)
            pipeline = store.get_pipeline(session, principal.tenant_id, data.pipeline_id)
            stage = rules.place(data, pipeline, None)
            opportunity = rules.new_opportunity(new_id(), principal.tenant_id, data, stage, now)
            store.add_opportunity(session, opportunity)
            move = StageMove("", stage, now, principal.subject, data.close_reason)
            store.record_move(session, principal.tenant_id, opportunity, move, new_id())
            self._emit(session, opportunity, events_pb2.OpportunityCreated(opportunity=snapshot(opportunity, stage)))
            self._emit_close(session, opportunity, stage)
            if claim is not None:
                claim(session, opportunity.id)
        return opportunity, stage

    def open_for_lead(
        self, principal: Principal, lead: Lead, contact_id: str, account_id: str, name: str, claim: Claim
    ) -> str:
        """The opportunity of a converted lead, in the tenant's first pipeline at its first open
        stage, owned by the lead's owner (docs/adr/0043). Its id is what the conversion stores."""
        with self.database.transaction() as session:
            pipeline = store.first_pipeline(session, principal.tenant_id)
        if pipeline is None:
            raise InvalidArgument.of(
                [FieldViolation("create_opportunity", "the tenant has no pipeline; create one first")]
            )
        owner = lead.data.owner_id or principal.subject
        data = OpportunityFields(
            name=name, contact_id=contact_id, account_id=account_id, pipeline_id=pipeline.id, owner_id=owner
        )
        opportunity, _ = self.create(principal, data, claim)
        return opportunity.id

    def get(self, principal: Principal, opportunity_id: str) -> View:
        with self.database.transaction() as session:
            opportunity = self._visible(principal, store.get_opportunity(session, principal.tenant_id, opportunity_id))
            if opportunity is None:
                raise NotFound.resource("opportunity", opportunity_id)
            return opportunity, self._stage_of(session, opportunity)

    def list(
        self, principal: Principal, requested: int, token: str, filter: str, order_by: str
    ) -> tuple[list[View], str]:
        size = page_size(requested)
        listing = store.Listing(filter, order_by, principal.subject if principal.own_records_only else None)
        scope = listing_scope("opportunities", filter, order_by)
        after = keyset_after(token, scope)
        with self.database.transaction() as session:
            try:
                found = store.page_opportunities(session, principal.tenant_id, listing, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
            stages = store.stages_by_id(session, principal.tenant_id, {o.data.stage_id for o, _ in found})
        page, next_token = page_of(found, size, lambda item: item[1], scope)
        return [(o, stages[o.data.stage_id]) for o, _ in page], next_token

    def update(
        self, principal: Principal, opportunity_id: str, patch: OpportunityFields, mask: Sequence[str], etag: str
    ) -> View:
        with self.database.transaction() as session:
            current = self._locked(session, principal, opportunity_id, etag)
            data, changed = rules.merged(current, patch, mask)
        if "owner_id" in changed and principal.own_records_only:
            self._owned(principal, data)
        if "contact_id" in changed and data.contact_id:
            self._check_contact(data.contact_id)  # outside the transaction: no lock held over a call
        now = self.clock()
        with self.database.transaction() as session:
            current = self._locked(session, principal, opportunity_id, etag)
            data, changed = rules.merged(current, patch, mask)
            before_stage = self._stage_of(session, current)
            if not changed:
                return current, before_stage
            pipeline = store.get_pipeline(session, principal.tenant_id, data.pipeline_id)
            if "pipeline_id" in changed and "stage_id" not in changed:
                data = replace(data, stage_id="")  # a new pipeline starts at its first open stage
            stage = rules.place(data, pipeline, current.data)
            updated = rules.changed_to(current, data, stage, now)
            store.save_opportunity(session, updated)
            if stage.id != before_stage.id:
                move = StageMove(before_stage.id, stage, now, principal.subject, data.close_reason)
                store.record_move(session, principal.tenant_id, updated, move, new_id())
                event = events_pb2.OpportunityStageChanged(
                    opportunity=snapshot(updated, stage),
                    from_stage_id=before_stage.id,
                    from_stage_name=before_stage.name,
                )
                self._emit(session, updated, event)
                self._emit_close(session, updated, stage)
        return updated, stage

    def delete(self, principal: Principal, opportunity_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            self._locked(session, principal, opportunity_id, etag)
            store.delete_opportunity(session, principal.tenant_id, opportunity_id)

    def history(self, principal: Principal, opportunity_id: str) -> list[store.StageHistoryRow]:
        with self.database.transaction() as session:
            opportunity = self._visible(principal, store.get_opportunity(session, principal.tenant_id, opportunity_id))
            if opportunity is None:
                raise NotFound.resource("opportunity", opportunity_id)
            return store.stage_history(session, principal.tenant_id, opportunity_id)

    def _owned(self, principal: Principal, data: OpportunityFields) -> OpportunityFields:
        if not data.owner_id:
            return replace(data, owner_id=principal.subject)  # the caller's, when nobody is named
        if principal.own_records_only and data.owner_id != principal.subject:
            raise InvalidArgument.of([FieldViolation("ownerId", "a sales rep owns the opportunities it writes")])
        return data

    def _check_contact(self, contact_id: str) -> None:
        if self.contacts is not None:
            self.contacts.check(contact_id)

    def _visible(self, principal: Principal, opportunity: Opportunity | None) -> Opportunity | None:
        if opportunity is not None and principal.own_records_only and opportunity.data.owner_id != principal.subject:
            return None
        return opportunity

    def _locked(self, session: Session, principal: Principal, opportunity_id: str, etag: str) -> Opportunity:
        found = store.get_opportunity(session, principal.tenant_id, opportunity_id, for_update=True)
        current = self._visible(principal, found)
        if current is None:
            raise NotFound.resource("opportunity", opportunity_id)
        rules.check_etag(current, etag)
        return current

    def _stage_of(self, session: Session, opportunity: Opportunity) -> Stage:
        stages = store.stages_by_id(session, opportunity.tenant_id, {opportunity.data.stage_id})
        return stages[opportunity.data.stage_id]

    def _emit(self, session: Session, opportunity: Opportunity, message: object) -> None:
        self.outbox.add(session, message, tenant_id=opportunity.tenant_id, subject=opportunity.id)  # type: ignore[arg-type]

    def _emit_close(self, session: Session, opportunity: Opportunity, stage: Stage) -> None:
        reason = opportunity.data.close_reason
        if stage.category == WON:
            self._emit(
                session, opportunity, events_pb2.OpportunityWon(opportunity=snapshot(opportunity, stage), reason=reason)
            )
        elif stage.category == LOST:
            self._emit(
                session,
                opportunity,
                events_pb2.OpportunityLost(opportunity=snapshot(opportunity, stage), reason=reason),
            )


def _history_to_proto(row: store.StageHistoryRow) -> opportunities_pb2.StageHistoryEntry:
    entry = opportunities_pb2.StageHistoryEntry(
        from_stage_id=row.from_stage_id,
        to_stage_id=row.to_stage_id,
        to_stage_name=row.to_stage_name,
        actor=row.actor,
        reason=row.reason,
    )
    entry.enter_time.FromDatetime(row.enter_time)
    if row.leave_time is not None:
        entry.leave_time.FromDatetime(row.leave_time)
    return entry


class OpportunitiesServicer(opportunities_pb2_grpc.OpportunitiesServiceServicer):
    def __init__(self, opportunities: Opportunities) -> None:
        self.opportunities = opportunities

    def CreateOpportunity(
        self, request: opportunities_pb2.CreateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        view = self.opportunities.create(current_principal(), opportunity_fields_from_proto(request.opportunity))
        return opportunity_to_proto(*view)

    def GetOpportunity(
        self, request: opportunities_pb2.GetOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        return opportunity_to_proto(*self.opportunities.get(current_principal(), request.id))

    def ListOpportunities(
        self, request: opportunities_pb2.ListOpportunitiesRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.ListOpportunitiesResponse:
        found, token = self.opportunities.list(
            current_principal(), request.page_size, request.page_token, request.filter, request.order_by
        )
        return opportunities_pb2.ListOpportunitiesResponse(
            opportunities=[opportunity_to_proto(*v) for v in found], next_page_token=token
        )

    def UpdateOpportunity(
        self, request: opportunities_pb2.UpdateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        view = self.opportunities.update(
            current_principal(),
            request.id,
            opportunity_fields_from_proto(request.opportunity),
            list(request.update_mask.paths),
            request.opportunity.etag,
        )
        return opportunity_to_proto(*view)

    def DeleteOpportunity(
        self, request: opportunities_pb2.DeleteOpportunityRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.opportunities.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    def ListStageHistory(
        self, request: opportunities_pb2.ListStageHistoryRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.ListStageHistoryResponse:
        rows = self.opportunities.history(current_principal(), request.id)
        return opportunities_pb2.ListStageHistoryResponse(entries=[_history_to_proto(r) for r in rows])
