"""AudienceService over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc

from crmkit.db import Database
from crmkit.errors import NotFound
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import current_principal
from services.marketing import store
from services.marketing.domain import AudienceMember


def member_to_proto(member: AudienceMember) -> marketing_pb2.AudienceMember:
    message = marketing_pb2.AudienceMember(
        contact_id=member.contact_id,
        email=member.email,
        given_name=member.given_name,
        family_name=member.family_name,
        lifecycle_stage=member.lifecycle_stage,
        tags=member.tags,
    )
    message.source_update_time.FromDatetime(member.source_update_time)
    return message


class AudienceServicer(marketing_pb2_grpc.AudienceServiceServicer):
    def __init__(self, database: Database) -> None:
        self.database = database

    def GetAudienceMember(
        self, request: marketing_pb2.GetAudienceMemberRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.AudienceMember:
        with self.database.transaction() as session:
            member = store.get(session, current_principal().tenant_id, request.contact_id)
        if member is None or member.deleted:
            raise NotFound.resource("audience member", request.contact_id)
        return member_to_proto(member)

    def ListAudienceMembers(
        self, request: marketing_pb2.ListAudienceMembersRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListAudienceMembersResponse:
        size = page_size(request.page_size)
        after = decode_cursor(request.page_token, "audienceMembers")
        with self.database.transaction() as session:
            found = store.page(session, current_principal().tenant_id, after, size + 1)
        members, token = page_of(found, size, lambda m: m.contact_id, "audienceMembers")
        return marketing_pb2.ListAudienceMembersResponse(
            audience_members=[member_to_proto(m) for m in members], next_page_token=token
        )
