"""Pipelines: use cases (one transaction each) and their gRPC servicer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import grpc
from crm.sales.v1 import pipelines_pb2, pipelines_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, FieldViolation, NotFound
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal, current_principal
from services.sales import deal_store as store
from services.sales.deal_messages import pipeline_fields_from_proto, pipeline_to_proto
from services.sales.domain import pipelines as rules
from services.sales.domain.pipelines import Pipeline, PipelineFields

SCOPE = "pipelines"


class Pipelines:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, data: PipelineFields) -> Pipeline:
        pipeline = rules.new_pipeline(new_id(), principal.tenant_id, data, self.clock(), new_id)
        with self.database.transaction() as session:
            store.add_pipeline(session, pipeline)
        return pipeline

    def get(self, principal: Principal, pipeline_id: str) -> Pipeline:
        with self.database.transaction() as session:
            pipeline = store.get_pipeline(session, principal.tenant_id, pipeline_id)
        if pipeline is None:
            raise NotFound.resource("pipeline", pipeline_id)
        return pipeline

    def list(self, principal: Principal, requested: int, token: str) -> tuple[list[Pipeline], str]:
        size = page_size(requested)
        after = decode_cursor(token, SCOPE)
        with self.database.transaction() as session:
            found = store.page_pipelines(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda p: p.id, SCOPE)

    def update(
        self, principal: Principal, pipeline_id: str, patch: PipelineFields, mask: Sequence[str], etag: str
    ) -> Pipeline:
        with self.database.transaction() as session:
            current = self._locked(session, principal, pipeline_id, etag)
            updated, changed = rules.updated(current, patch, mask, self.clock(), new_id)
            if changed:
                self._refuse_removing_used(session, current, updated)
                store.save_pipeline(session, updated)
        return updated

    def reorder(self, principal: Principal, pipeline_id: str, stage_ids: Sequence[str], etag: str) -> Pipeline:
        with self.database.transaction() as session:
            current = self._locked(session, principal, pipeline_id, etag)
            updated = rules.reordered(current, stage_ids, self.clock())
            store.save_pipeline(session, updated)
        return updated

    def delete(self, principal: Principal, pipeline_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            self._locked(session, principal, pipeline_id, etag)
            used = store.opportunities_in(session, principal.tenant_id, pipeline_id=pipeline_id)
            if used:
                raise FailedPrecondition(
                    f"pipeline {pipeline_id} has {used} opportunities; move or delete them first",
                    [FieldViolation("id", f"{used} opportunities are in this pipeline")],
                )
            store.delete_pipeline(session, principal.tenant_id, pipeline_id)

    def _locked(self, session, principal: Principal, pipeline_id: str, etag: str) -> Pipeline:  # type: ignore[no-untyped-def]
        current = store.get_pipeline(session, principal.tenant_id, pipeline_id, for_update=True)
        if current is None:
            raise NotFound.resource("pipeline", pipeline_id)
        rules.check_etag(current, etag)
        return current

    def _refuse_removing_used(self, session, before: Pipeline, after: Pipeline) -> None:  # type: ignore[no-untyped-def]
        for stage_id in rules.removed_stages(before, after):
            used = store.opportunities_in(session, before.tenant_id, stage_ids=[stage_id])
            if used:
                name = before.stage(stage_id).name  # type: ignore[union-attr]
                raise FailedPrecondition(
                    f"stage {name!r} has {used} opportunities; move them before deleting it",
                    [FieldViolation("stages", f"stage {stage_id} ({name}) is in use by {used} opportunities")],
                )


class PipelinesServicer(pipelines_pb2_grpc.PipelinesServiceServicer):
    def __init__(self, pipelines: Pipelines) -> None:
        self.pipelines = pipelines

    def CreatePipeline(
        self, request: pipelines_pb2.CreatePipelineRequest, context: grpc.ServicerContext
    ) -> pipelines_pb2.Pipeline:
        created = self.pipelines.create(current_principal(), pipeline_fields_from_proto(request.pipeline))
        return pipeline_to_proto(created)

    def GetPipeline(
        self, request: pipelines_pb2.GetPipelineRequest, context: grpc.ServicerContext
    ) -> pipelines_pb2.Pipeline:
        return pipeline_to_proto(self.pipelines.get(current_principal(), request.id))

    def ListPipelines(
        self, request: pipelines_pb2.ListPipelinesRequest, context: grpc.ServicerContext
    ) -> pipelines_pb2.ListPipelinesResponse:
        found, token = self.pipelines.list(current_principal(), request.page_size, request.page_token)
        return pipelines_pb2.ListPipelinesResponse(
            pipelines=[pipeline_to_proto(p) for p in found], next_page_token=token
        )

    def UpdatePipeline(
        self, request: pipelines_pb2.UpdatePipelineRequest, context: grpc.ServicerContext
    ) -> pipelines_pb2.Pipeline:
        updated = self.pipelines.update(
            current_principal(),
            request.id,
            pipeline_fields_from_proto(request.pipeline),
            list(request.update_mask.paths),
            request.pipeline.etag,
        )
        return pipeline_to_proto(updated)

    def ReorderStages(
        self, request: pipelines_pb2.ReorderStagesRequest, context: grpc.ServicerContext
    ) -> pipelines_pb2.Pipeline:
        updated = self.pipelines.reorder(current_principal(), request.id, list(request.stage_ids), request.etag)
        return pipeline_to_proto(updated)

    def DeletePipeline(
        self, request: pipelines_pb2.DeletePipelineRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.pipelines.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()
