"""ImportJobsService over gRPC: import jobs and the CSV export (docs/adr/0038, 0039)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from crm.contacts.v1 import imports_pb2, imports_pb2_grpc
from google.api import httpbody_pb2

from crmkit.db import Database
from crmkit.tokens import current_principal
from services.contacts.exports import export_csv
from services.contacts.import_store import ImportJobRow
from services.contacts.imports import ImportJobs

Job = imports_pb2.ImportJob
CSV_TYPE = "text/csv; charset=utf-8"


def job_to_proto(job: ImportJobRow) -> imports_pb2.ImportJob:
    message = Job(
        id=job.id,
        state=Job.State.Value(job.state),
        column_mapping=dict(job.column_mapping),
        match_key=Job.MatchKey.Value(job.match_key),
        allow_partial=job.allow_partial,
        validate_only=job.validate_only,
        chunks_received=job.chunks_received,
        bytes_received=job.bytes_received,
        rows_total=job.rows_total,
        rows_processed=job.rows_processed,
        rows_created=job.rows_created,
        rows_updated=job.rows_updated,
        rows_failed=job.rows_failed,
        progress_percent=job.progress_percent,
        error_message=job.error_message,
    )
    message.create_time.FromDatetime(job.create_time)
    message.update_time.FromDatetime(job.update_time)
    return message


class ImportJobsServicer(imports_pb2_grpc.ImportJobsServiceServicer):
    def __init__(self, jobs: ImportJobs, database: Database) -> None:
        self.jobs = jobs
        self.database = database

    def CreateImportJob(
        self, request: imports_pb2.CreateImportJobRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ImportJob:
        given = request.import_job
        match_key = Job.MatchKey.Name(given.match_key) if given.match_key else ""
        job = self.jobs.create(
            current_principal(), dict(given.column_mapping), match_key, given.allow_partial, given.validate_only
        )
        return job_to_proto(job)

    def UploadImportChunk(
        self, request: imports_pb2.UploadImportChunkRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ImportJob:
        return job_to_proto(self.jobs.upload_chunk(current_principal(), request.id, request.sequence, request.data))

    def StartImportJob(
        self, request: imports_pb2.StartImportJobRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ImportJob:
        return job_to_proto(self.jobs.start(current_principal(), request.id, request.chunk_count))

    def CancelImportJob(
        self, request: imports_pb2.CancelImportJobRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ImportJob:
        return job_to_proto(self.jobs.cancel(current_principal(), request.id))

    def GetImportJob(
        self, request: imports_pb2.GetImportJobRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ImportJob:
        return job_to_proto(self.jobs.get(current_principal(), request.id))

    def ListImportJobErrors(
        self, request: imports_pb2.ListImportJobErrorsRequest, context: grpc.ServicerContext
    ) -> imports_pb2.ListImportJobErrorsResponse:
        found, token = self.jobs.errors(current_principal(), request.id, request.page_size, request.page_token)
        errors = [imports_pb2.ImportRowError(row_number=e.row_number, field=e.field, message=e.message) for e in found]
        return imports_pb2.ListImportJobErrorsResponse(errors=errors, next_page_token=token)

    def ExportContacts(
        self, request: imports_pb2.ExportContactsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        for piece in export_csv(self.database, current_principal(), request.filter, request.order_by):
            yield httpbody_pb2.HttpBody(content_type=CSV_TYPE, data=piece)
