"""DuplicatesService over gRPC: proto <-> use cases, nothing else."""

from __future__ import annotations

from typing import Any

import grpc
from crm.contacts.v1 import contacts_pb2, duplicates_pb2, duplicates_pb2_grpc

from crmkit.tokens import current_principal
from services.contacts.dedup_store import DuplicatePairRow, DuplicateScanRow
from services.contacts.merging import DuplicateScans, Merges
from services.contacts.messages import contact_to_proto

State = duplicates_pb2.DuplicateScan.State


def _matches(matches: list[dict[str, Any]]) -> list[duplicates_pb2.FieldMatch]:
    return [duplicates_pb2.FieldMatch(field=m["field"], how=m["how"], similarity=m["similarity"]) for m in matches]


def scan_to_proto(row: DuplicateScanRow) -> duplicates_pb2.DuplicateScan:
    message = duplicates_pb2.DuplicateScan(
        id=row.id, threshold=row.threshold, state=State.Value(row.state), phase=row.phase, processed=row.processed,
        total_contacts=row.total_contacts, pairs_found=row.pairs_found, error=row.error,
    )  # fmt: skip
    message.create_time.FromDatetime(row.create_time)
    message.update_time.FromDatetime(row.update_time)
    return message


def pair_to_proto(row: DuplicatePairRow) -> duplicates_pb2.DuplicatePair:
    return duplicates_pb2.DuplicatePair(
        contact_id=row.contact_a, other_contact_id=row.contact_b, score=row.score, matches=_matches(row.matches)
    )


class DuplicatesServicer(duplicates_pb2_grpc.DuplicatesServiceServicer):
    def __init__(self, merges: Merges, scans: DuplicateScans) -> None:
        self.merges = merges
        self.scans = scans

    def FindDuplicates(
        self, request: duplicates_pb2.FindDuplicatesRequest, context: grpc.ServicerContext
    ) -> duplicates_pb2.FindDuplicatesResponse:
        found = self.merges.find_duplicates(current_principal(), request.id, request.threshold, request.page_size)
        return duplicates_pb2.FindDuplicatesResponse(
            candidates=[
                duplicates_pb2.DuplicateCandidate(
                    contact=contact_to_proto(c.contact),
                    score=c.scored.score,
                    matches=[
                        duplicates_pb2.FieldMatch(field=m.field, how=m.how, similarity=m.similarity)
                        for m in c.scored.matches
                    ],
                )
                for c in found
            ]
        )

    def MergeContacts(
        self, request: duplicates_pb2.MergeContactsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.Contact:
        merged = self.merges.merge(
            current_principal(),
            request.id,
            list(request.loser_ids),
            request.etag,
            dict(request.loser_etags),
            dict(request.field_choices),
        )
        return contact_to_proto(merged)

    def CreateDuplicateScan(
        self, request: duplicates_pb2.CreateDuplicateScanRequest, context: grpc.ServicerContext
    ) -> duplicates_pb2.DuplicateScan:
        return scan_to_proto(self.scans.create(current_principal(), request.duplicate_scan.threshold))

    def GetDuplicateScan(
        self, request: duplicates_pb2.GetDuplicateScanRequest, context: grpc.ServicerContext
    ) -> duplicates_pb2.DuplicateScan:
        return scan_to_proto(self.scans.get(current_principal(), request.id))

    def ListDuplicatePairs(
        self, request: duplicates_pb2.ListDuplicatePairsRequest, context: grpc.ServicerContext
    ) -> duplicates_pb2.ListDuplicatePairsResponse:
        rows, token = self.scans.pairs(current_principal(), request.id, request.page_size, request.page_token)
        return duplicates_pb2.ListDuplicatePairsResponse(pairs=[pair_to_proto(r) for r in rows], next_page_token=token)
