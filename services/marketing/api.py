"""The marketing services over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc, sequences_pb2, sequences_pb2_grpc
from google.protobuf import empty_pb2, json_format

from crmkit.db import Database
from crmkit.errors import NotFound
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import current_principal
from services.marketing import store
from services.marketing.domain import AudienceMember, templating
from services.marketing.domain import sequences as sequence_rules
from services.marketing.domain.consent import ConsentRequest, Subscription
from services.marketing.sequences import EnrolmentView, Sequences, SequenceView
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


def step_to_proto(step: sequence_rules.Step) -> sequences_pb2.SequenceStep:
    message = sequences_pb2.SequenceStep()
    if step.kind == sequence_rules.EMAIL:
        message.email.template_id = step.template_id
    elif step.kind == sequence_rules.WAIT:
        message.wait.delay.FromTimedelta(step.delay)
    else:
        message.condition.rules.update(dict(step.rules))
        message.condition.else_step = step.else_step
    return message


def step_from_proto(message: sequences_pb2.SequenceStep) -> sequence_rules.Step:
    kind = message.WhichOneof("kind") or ""
    if kind == sequence_rules.EMAIL:
        return sequence_rules.Step(kind, template_id=message.email.template_id)
    if kind == sequence_rules.WAIT:
        return sequence_rules.Step(kind, delay=message.wait.delay.ToTimedelta())
    if kind == sequence_rules.CONDITION:
        rules = json_format.MessageToDict(message.condition.rules)
        return sequence_rules.Step(kind, rules=rules, else_step=message.condition.else_step)
    return sequence_rules.Step("")


def sequence_fields(message: sequences_pb2.Sequence) -> sequence_rules.SequenceFields:
    return sequence_rules.SequenceFields(
        message.name, message.segment_id, tuple(step_from_proto(s) for s in message.steps)
    )


def sequence_to_proto(view: SequenceView) -> sequences_pb2.Sequence:
    row = view.row
    message = sequences_pb2.Sequence(
        id=row.id,
        name=row.name,
        segment_id=row.segment_id,
        steps=[step_to_proto(s) for s in view.steps],
        state=row.state,
        active_enrolment_count=view.active_enrolments,
        etag=row.etag,
    )
    message.create_time.FromDatetime(row.create_time)
    message.update_time.FromDatetime(row.update_time)
    return message


def enrolment_to_proto(view: EnrolmentView) -> sequences_pb2.Enrolment:
    row = view.row
    running = row.status == sequence_rules.RUNNING
    message = sequences_pb2.Enrolment(
        id=row.id,
        sequence_id=row.sequence_id,
        contact_id=row.contact_id,
        source=row.source,
        status=row.status,
        current_step=row.next_step + 1 if running else 0,
        exit_reason=row.exit_reason,
        exit_detail=row.exit_detail,
    )
    if running and row.due_time is not None:
        message.next_run_time.FromDatetime(row.due_time)
    message.enrol_time.FromDatetime(row.enrol_time)
    if row.end_time is not None:
        message.end_time.FromDatetime(row.end_time)
    for run in view.runs:
        step = message.step_runs.add(
            step=run.step, kind=run.kind, outcome=run.outcome, message_id=run.message_id, detail=run.detail
        )
        step.run_time.FromDatetime(run.run_time)
    return message


class SequenceServicer(sequences_pb2_grpc.SequenceServiceServicer):
    def __init__(self, sequences: Sequences) -> None:
        self.sequences = sequences

    def CreateSequence(
        self, request: sequences_pb2.CreateSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        view = self.sequences.create(current_principal().tenant_id, sequence_fields(request.sequence))
        return sequence_to_proto(view)

    def GetSequence(
        self, request: sequences_pb2.GetSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        return sequence_to_proto(self.sequences.get(current_principal().tenant_id, request.id))

    def ListSequences(
        self, request: sequences_pb2.ListSequencesRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.ListSequencesResponse:
        views, token = self.sequences.page(current_principal().tenant_id, request.page_token, request.page_size)
        return sequences_pb2.ListSequencesResponse(
            sequences=[sequence_to_proto(v) for v in views], next_page_token=token
        )

    def UpdateSequence(
        self, request: sequences_pb2.UpdateSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        view = self.sequences.update(
            current_principal().tenant_id,
            request.id,
            sequence_fields(request.sequence),
            list(request.update_mask.paths),
            request.sequence.etag,
        )
        return sequence_to_proto(view)

    def DeleteSequence(
        self, request: sequences_pb2.DeleteSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        return sequence_to_proto(self.sequences.archive(current_principal().tenant_id, request.id, request.etag))

    def ActivateSequence(
        self, request: sequences_pb2.ActivateSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        return sequence_to_proto(self.sequences.activate(current_principal().tenant_id, request.id, request.etag))

    def PauseSequence(
        self, request: sequences_pb2.PauseSequenceRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Sequence:
        return sequence_to_proto(self.sequences.pause(current_principal().tenant_id, request.id, request.etag))

    def EnrolContact(
        self, request: sequences_pb2.EnrolContactRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Enrolment:
        view = self.sequences.enrol_contact(current_principal().tenant_id, request.sequence_id, request.contact_id)
        return enrolment_to_proto(view)

    def ListEnrolments(
        self, request: sequences_pb2.ListEnrolmentsRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.ListEnrolmentsResponse:
        views, token = self.sequences.enrolments(
            current_principal().tenant_id, request.sequence_id, request.status, request.page_token, request.page_size
        )
        return sequences_pb2.ListEnrolmentsResponse(
            enrolments=[enrolment_to_proto(v) for v in views], next_page_token=token
        )

    def GetEnrolment(
        self, request: sequences_pb2.GetEnrolmentRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Enrolment:
        view = self.sequences.enrolment(current_principal().tenant_id, request.sequence_id, request.id)
        return enrolment_to_proto(view)

    def ExitEnrolment(
        self, request: sequences_pb2.ExitEnrolmentRequest, context: grpc.ServicerContext
    ) -> sequences_pb2.Enrolment:
        view = self.sequences.exit(current_principal().tenant_id, request.sequence_id, request.id)
        return enrolment_to_proto(view)
