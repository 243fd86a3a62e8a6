"""The webhooks service over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.integrations.v1 import webhooks_pb2, webhooks_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.integrations.webhooks import catalog
from services.integrations.webhooks.messages import delivery_to_proto, fields_from_proto, webhook_to_proto
from services.integrations.webhooks.usecases import Webhooks


class WebhooksServicer(webhooks_pb2_grpc.WebhooksServiceServicer):
    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    def CreateWebhook(
        self, request: webhooks_pb2.CreateWebhookRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.Webhook:
        return webhook_to_proto(*self.webhooks.create(current_principal(), fields_from_proto(request.webhook)))

    def GetWebhook(
        self, request: webhooks_pb2.GetWebhookRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.Webhook:
        return webhook_to_proto(self.webhooks.get(current_principal(), request.id))

    def ListWebhooks(
        self, request: webhooks_pb2.ListWebhooksRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.ListWebhooksResponse:
        found, token = self.webhooks.page(current_principal(), request.page_size, request.page_token)
        return webhooks_pb2.ListWebhooksResponse(webhooks=[webhook_to_proto(w) for w in found], next_page_token=token)

    def UpdateWebhook(
        self, request: webhooks_pb2.UpdateWebhookRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.Webhook:
        updated = self.webhooks.update(
            current_principal(),
            request.id,
            fields_from_proto(request.webhook),
            list(request.update_mask.paths),
            request.webhook.etag,
        )
        return webhook_to_proto(updated)

    def DeleteWebhook(
        self, request: webhooks_pb2.DeleteWebhookRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.webhooks.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()

    def RotateWebhookSecret(
        self, request: webhooks_pb2.RotateWebhookSecretRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.Webhook:
        overlap = request.overlap_seconds if request.HasField("overlap_seconds") else None
        return webhook_to_proto(*self.webhooks.rotate_secret(current_principal(), request.id, overlap))

    def EnableWebhook(
        self, request: webhooks_pb2.EnableWebhookRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.Webhook:
        return webhook_to_proto(self.webhooks.enable(current_principal(), request.id))

    def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        found, token = self.webhooks.deliveries(
            current_principal(), request.webhook_id, request.page_size, request.page_token
        )
        return webhooks_pb2.ListWebhookDeliveriesResponse(
            deliveries=[delivery_to_proto(d) for d in found], next_page_token=token
        )

    def GetWebhookDelivery(
        self, request: webhooks_pb2.GetWebhookDeliveryRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.WebhookDelivery:
        return delivery_to_proto(self.webhooks.delivery(current_principal(), request.id))

    def ReplayWebhookDelivery(
        self, request: webhooks_pb2.ReplayWebhookDeliveryRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.WebhookDelivery:
        return delivery_to_proto(self.webhooks.replay(current_principal(), request.id))

    def ListWebhookEventTypes(
        self, request: webhooks_pb2.ListWebhookEventTypesRequest, context: grpc.ServicerContext
    ) -> webhooks_pb2.ListWebhookEventTypesResponse:
        return webhooks_pb2.ListWebhookEventTypesResponse(
            event_types=[webhooks_pb2.WebhookEventType(name=n, description=d) for n, d in catalog.EVENT_TYPES.items()]
        )
