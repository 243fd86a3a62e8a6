"""Campaigns and public tracking over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
from crm.common.v1 import redirect_pb2
from crm.marketing.v1 import campaigns_pb2, campaigns_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2, timestamp_pb2
from google.type import money_pb2

from crmkit.errors import Validator
from crmkit.tokens import current_principal
from services.marketing.campaigns import Analytics, Campaigns, CampaignView
from services.marketing.delivery import MessageRecord
from services.marketing.domain import campaigns as rules
from services.marketing.domain.campaigns import CampaignFields
from services.marketing.tracking import Tracking

Status = campaigns_pb2.Campaign.Status


def _stamp(target: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)


def _money(currency: str, nanos: int) -> money_pb2.Money:
    units, rest = divmod(abs(nanos), rules.NANOS)
    sign = -1 if nanos < 0 else 1
    return money_pb2.Money(currency_code=currency, units=sign * units, nanos=sign * rest)


def campaign_to_proto(view: CampaignView) -> campaigns_pb2.Campaign:
    row, fields = view.row, view.fields
    message = campaigns_pb2.Campaign(
        id=row.id,
        name=fields.name,
        status=Status.Value(row.status),
        segment_id=fields.segment_id,
        template_id=fields.template_id,
        from_address=fields.from_address,
        subject=fields.subject,
        connection_id=fields.connection_id,
        send_rate_per_minute=fields.send_rate_per_minute,
        etag=view.etag,
    )
    if fields.cost is not None:
        message.cost.CopyFrom(_money(fields.cost.currency, fields.cost.nanos))
    for name in ("schedule_time", "start_time", "finish_time", "create_time", "update_time"):
        _stamp(getattr(message, name), getattr(row, name))
    return message


def campaign_fields(message: campaigns_pb2.Campaign) -> CampaignFields:
    cost = None
    if message.HasField("cost"):
        check = Validator()
        cost = rules.money_nanos("cost", message.cost.currency_code, message.cost.units, message.cost.nanos, check)
        check.raise_if_any()
    return CampaignFields(
        message.name,
        message.segment_id,
        message.template_id,
        message.from_address,
        message.subject,
        message.connection_id,
        message.send_rate_per_minute,
        cost,
    )


def message_to_proto(record: MessageRecord) -> campaigns_pb2.CampaignMessage:
    message = campaigns_pb2.CampaignMessage(
        id=record.id,
        contact_id=record.contact_id,
        email=record.email,
        status=record.status,
        reason=record.reason,
        render_error=record.render_error,
        error=record.error,
        subject=record.subject,
    )
    for name in ("sent_time", "first_open_time", "first_click_time", "bounce_time", "unsubscribe_time"):
        _stamp(getattr(message, name), getattr(record, name))
    return message


def analytics_to_proto(found: Analytics) -> campaigns_pb2.CampaignAnalytics:
    message = campaigns_pb2.CampaignAnalytics(
        campaign_id=found.campaign_id,
        recipients=found.recipients,
        skipped=found.skipped,
        render_failed=found.render_failed,
        failed=found.failed,
        sent=found.sent,
        delivered=found.delivered,
        bounced=found.bounced,
        unique_opens=found.unique_opens,
        unique_clicks=found.unique_clicks,
        click_through_rate=found.click_through_rate,
        unsubscribes=found.unsubscribes,
        conversions=found.conversions,
        attributed_revenue=[_money(c, n) for c, n in sorted(found.revenue.items())],
    )
    if found.cost is not None:
        message.cost.CopyFrom(_money(found.cost.currency, found.cost.nanos))
    if found.roi is not None:
        message.roi = found.roi
    return message


class CampaignServicer(campaigns_pb2_grpc.CampaignServiceServicer):
    def __init__(self, campaigns: Campaigns) -> None:
        self.campaigns = campaigns

    def CreateCampaign(
        self, request: campaigns_pb2.CreateCampaignRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.Campaign:
        tenant = current_principal().tenant_id
        return campaign_to_proto(self.campaigns.create(tenant, campaign_fields(request.campaign)))

    def GetCampaign(
        self, request: campaigns_pb2.GetCampaignRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.Campaign:
        return campaign_to_proto(self.campaigns.get(current_principal().tenant_id, request.id))

    def ListCampaigns(
        self, request: campaigns_pb2.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.ListCampaignsResponse:
        views, token = self.campaigns.page(current_principal().tenant_id, request.page_token, request.page_size)
        return campaigns_pb2.ListCampaignsResponse(
            campaigns=[campaign_to_proto(v) for v in views], next_page_token=token
        )

    def UpdateCampaign(
        self, request: campaigns_pb2.UpdateCampaignRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.Campaign:
        view = self.campaigns.update(
            current_principal().tenant_id,
            request.id,
            campaign_fields(request.campaign),
            list(request.update_mask.paths),
            request.campaign.etag,
        )
        return campaign_to_proto(view)

    def DeleteCampaign(
        self, request: campaigns_pb2.DeleteCampaignRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.campaigns.delete(current_principal().tenant_id, request.id, request.etag)
        return empty_pb2.Empty()

    def ScheduleCampaign(
        self, request: campaigns_pb2.ScheduleCampaignRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.Campaign:
        when = request.schedule_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("schedule_time") else None
        view = self.campaigns.schedule(current_principal().tenant_id, request.id, when, request.etag)
        return campaign_to_proto(view)

    def CancelCampaign(
        self, request: campaigns_pb2.CancelCampaignRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.Campaign:
        return campaign_to_proto(self.campaigns.cancel(current_principal().tenant_id, request.id, request.etag))

    def ListCampaignMessages(
        self, request: campaigns_pb2.ListCampaignMessagesRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.ListCampaignMessagesResponse:
        records, token = self.campaigns.messages(
            current_principal().tenant_id, request.id, request.status, request.page_token, request.page_size
        )
        return campaigns_pb2.ListCampaignMessagesResponse(
            messages=[message_to_proto(r) for r in records], next_page_token=token
        )

    def GetCampaignAnalytics(
        self, request: campaigns_pb2.GetCampaignAnalyticsRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.CampaignAnalytics:
        return analytics_to_proto(self.campaigns.analytics(current_principal().tenant_id, request.id))


class TrackingServicer(campaigns_pb2_grpc.TrackingServiceServicer):
    """Public methods: the principal is anonymous; the token in the request is the authority."""

    def __init__(self, tracking: Tracking) -> None:
        self.tracking = tracking

    def TrackOpen(
        self, request: campaigns_pb2.TrackOpenRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        pixel = self.tracking.opened(request.token)
        yield httpbody_pb2.HttpBody(content_type="image/gif", data=pixel)

    def TrackClick(
        self, request: campaigns_pb2.TrackClickRequest, context: grpc.ServicerContext
    ) -> redirect_pb2.Redirect:
        return redirect_pb2.Redirect(location=self.tracking.clicked(request.token))

    def GetUnsubscribePage(
        self, request: campaigns_pb2.GetUnsubscribePageRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        page = self.tracking.unsubscribe_page(request.token)
        yield httpbody_pb2.HttpBody(content_type="text/html; charset=utf-8", data=page.encode())

    def Unsubscribe(
        self, request: campaigns_pb2.UnsubscribeRequest, context: grpc.ServicerContext
    ) -> campaigns_pb2.UnsubscribeResponse:
        self.tracking.unsubscribe(request.token, {"List-Unsubscribe": request.list_unsubscribe})
        return campaigns_pb2.UnsubscribeResponse(unsubscribed=True)
