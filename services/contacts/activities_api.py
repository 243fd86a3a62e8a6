"""ActivitiesService and TimelineService over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.contacts.v1 import activities_pb2, activities_pb2_grpc, timeline_pb2, timeline_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.contacts.activities import Activities
from services.contacts.activity_messages import activity_fields_from_proto, activity_to_proto, entry_to_proto
from services.contacts.timeline import Timeline


class ActivitiesServicer(activities_pb2_grpc.ActivitiesServiceServicer):
    def __init__(self, activities: Activities) -> None:
        self.activities = activities

    def CreateActivity(
        self, request: activities_pb2.CreateActivityRequest, context: grpc.ServicerContext
    ) -> activities_pb2.Activity:
        activity = self.activities.create(current_principal(), activity_fields_from_proto(request.activity))
        return activity_to_proto(activity)

    def GetActivity(
        self, request: activities_pb2.GetActivityRequest, context: grpc.ServicerContext
    ) -> activities_pb2.Activity:
        return activity_to_proto(self.activities.get(current_principal(), request.id))

    def ListActivities(
        self, request: activities_pb2.ListActivitiesRequest, context: grpc.ServicerContext
    ) -> activities_pb2.ListActivitiesResponse:
        found, token = self.activities.list(
            current_principal(), request.page_size, request.page_token, request.filter, request.order_by
        )
        return activities_pb2.ListActivitiesResponse(
            activities=[activity_to_proto(a) for a in found], next_page_token=token
        )

    def UpdateActivity(
        self, request: activities_pb2.UpdateActivityRequest, context: grpc.ServicerContext
    ) -> activities_pb2.Activity:
        activity = self.activities.update(
            current_principal(),
            request.id,
            activity_fields_from_proto(request.activity),
            list(request.update_mask.paths),
            request.activity.etag,
        )
        return activity_to_proto(activity)

    def DeleteActivity(
        self, request: activities_pb2.DeleteActivityRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.activities.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()


class TimelineServicer(timeline_pb2_grpc.TimelineServiceServicer):
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline

    def ListContactTimeline(
        self, request: timeline_pb2.ListContactTimelineRequest, context: grpc.ServicerContext
    ) -> timeline_pb2.ListTimelineResponse:
        found, token = self.timeline.of_contact(
            current_principal(), request.contact_id, request.page_size, request.page_token, request.filter
        )
        return timeline_pb2.ListTimelineResponse(entries=[entry_to_proto(e) for e in found], next_page_token=token)

    def ListAccountTimeline(
        self, request: timeline_pb2.ListAccountTimelineRequest, context: grpc.ServicerContext
    ) -> timeline_pb2.ListTimelineResponse:
        found, token = self.timeline.of_account(
            current_principal(), request.account_id, request.page_size, request.page_token, request.filter
        )
        return timeline_pb2.ListTimelineResponse(entries=[entry_to_proto(e) for e in found], next_page_token=token)
