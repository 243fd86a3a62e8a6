"""The marketing services over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc
from google.protobuf import empty_pb2, json_format

from crmkit.db import Database
from crmkit.errors import NotFound
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import current_principal
from services.marketing import store
from services.marketing.domain import AudienceMember, templating
from services.marketing.domain.consent import ConsentRequest, Subscription
from services.marketing.store import TemplateRow
from services.marketing.usecases import Consent, SegmentFields, Segments, SegmentView, Templates


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


def subscription_to_proto(subscription: Subscription) -> marketing_pb2.Subscription:
    message = marketing_pb2.Subscription(
        channel=subscription.channel,
        status=subscription.status,
        legal_basis=subscription.legal_basis,
        source=subscription.source,
        explicit_opt_in=subscription.explicit_opt_in,
    )
    message.update_time.FromDatetime(subscription.update_time)
    return message


class ConsentServicer(marketing_pb2_grpc.ConsentServiceServicer):
    def __init__(self, consent: Consent) -> None:
        self.consent = consent

    def ListSubscriptions(
        self, request: marketing_pb2.ListSubscriptionsRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListSubscriptionsResponse:
        view = self.consent.of_contact(current_principal().tenant_id, request.contact_id)
        return marketing_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_to_proto(s) for s in view.current],
            history=[subscription_to_proto(s) for s in view.history],
        )

    def UpdateSubscription(
        self, request: marketing_pb2.UpdateSubscriptionRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Subscription:
        decision = ConsentRequest(
            request.channel, request.status, request.legal_basis, request.source, request.explicit_opt_in
        )
        return subscription_to_proto(self.consent.update(current_principal().tenant_id, request.contact_id, decision))

    def ListSuppressions(
        self, request: marketing_pb2.ListSuppressionsRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListSuppressionsResponse:
        found, token = self.consent.suppressions(current_principal().tenant_id, request.page_token, request.page_size)
        suppressions = []
        for entry in found:
            message = marketing_pb2.Suppression(email=entry.email, reason=entry.reason, contact_id=entry.contact_id)
            message.create_time.FromDatetime(entry.create_time)
            suppressions.append(message)
        return marketing_pb2.ListSuppressionsResponse(suppressions=suppressions, next_page_token=token)


def segment_to_proto(view: SegmentView) -> marketing_pb2.Segment:
    row = view.row
    message = marketing_pb2.Segment(id=row.id, name=row.name, kind=row.kind, member_count=view.member_count)
    if row.rules:
        message.rules.update(row.rules)
    message.create_time.FromDatetime(row.create_time)
    message.update_time.FromDatetime(row.update_time)
    return message


def segment_fields(message: marketing_pb2.Segment) -> SegmentFields:
    return SegmentFields(message.name, message.kind, json_format.MessageToDict(message.rules))


class SegmentServicer(marketing_pb2_grpc.SegmentServiceServicer):
    def __init__(self, segments: Segments) -> None:
        self.segments = segments

    def CreateSegment(
        self, request: marketing_pb2.CreateSegmentRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Segment:
        return segment_to_proto(self.segments.create(current_principal().tenant_id, segment_fields(request.segment)))

    def GetSegment(
        self, request: marketing_pb2.GetSegmentRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Segment:
        return segment_to_proto(self.segments.get(current_principal().tenant_id, request.id))

    def ListSegments(
        self, request: marketing_pb2.ListSegmentsRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListSegmentsResponse:
        views, token = self.segments.page(current_principal().tenant_id, request.page_token, request.page_size)
        return marketing_pb2.ListSegmentsResponse(segments=[segment_to_proto(v) for v in views], next_page_token=token)

    def UpdateSegment(
        self, request: marketing_pb2.UpdateSegmentRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Segment:
        view = self.segments.update(
            current_principal().tenant_id, request.id, segment_fields(request.segment), list(request.update_mask.paths)
        )
        return segment_to_proto(view)

    def DeleteSegment(
        self, request: marketing_pb2.DeleteSegmentRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.segments.delete(current_principal().tenant_id, request.id)
        return empty_pb2.Empty()

    def ListSegmentMembers(
        self, request: marketing_pb2.ListSegmentMembersRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListSegmentMembersResponse:
        members, token = self.segments.members(
            current_principal().tenant_id, request.id, request.page_token, request.page_size
        )
        return marketing_pb2.ListSegmentMembersResponse(
            audience_members=[member_to_proto(m) for m in members], next_page_token=token
        )

    def AddSegmentMembers(
        self, request: marketing_pb2.ChangeSegmentMembersRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Segment:
        view = self.segments.change_members(current_principal().tenant_id, request.id, request.contact_ids, add=True)
        return segment_to_proto(view)

    def RemoveSegmentMembers(
        self, request: marketing_pb2.ChangeSegmentMembersRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Segment:
        view = self.segments.change_members(current_principal().tenant_id, request.id, request.contact_ids, add=False)
        return segment_to_proto(view)


def template_to_proto(row: TemplateRow) -> marketing_pb2.Template:
    message = marketing_pb2.Template(
        id=row.id, name=row.name, subject=row.subject, html_body=row.html_body, text_body=row.text_body
    )
    message.create_time.FromDatetime(row.create_time)
    return message


class TemplateServicer(marketing_pb2_grpc.TemplateServiceServicer):
    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def CreateTemplate(
        self, request: marketing_pb2.CreateTemplateRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Template:
        t = request.template
        parts = templating.TemplateParts(t.subject, t.html_body, t.text_body)
        return template_to_proto(self.templates.create(current_principal().tenant_id, t.name, parts))

    def GetTemplate(
        self, request: marketing_pb2.GetTemplateRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.Template:
        return template_to_proto(self.templates.get(current_principal().tenant_id, request.id))

    def ListTemplates(
        self, request: marketing_pb2.ListTemplatesRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.ListTemplatesResponse:
        rows, token = self.templates.page(current_principal().tenant_id, request.page_token, request.page_size)
        return marketing_pb2.ListTemplatesResponse(
            templates=[template_to_proto(r) for r in rows], next_page_token=token
        )

    def PreviewTemplate(
        self, request: marketing_pb2.PreviewTemplateRequest, context: grpc.ServicerContext
    ) -> marketing_pb2.PreviewTemplateResponse:
        result = self.templates.preview(current_principal().tenant_id, request.id, request.contact_id)
        if isinstance(result, templating.RenderError):
            error = marketing_pb2.RenderError(part=result.part, message=result.message)
            return marketing_pb2.PreviewTemplateResponse(error=error)
        return marketing_pb2.PreviewTemplateResponse(
            subject=result.subject, html_body=result.html_body, text_body=result.text_body
        )
