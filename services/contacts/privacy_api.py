"""PrivacyRequestsService over gRPC: proto <-> use cases, nothing else."""

from __future__ import annotations

import grpc
from crm.contacts.v1 import privacy_pb2, privacy_pb2_grpc

from crmkit.tokens import current_principal
from services.contacts.privacy import PrivacyRequests, to_proto


class PrivacyRequestsServicer(privacy_pb2_grpc.PrivacyRequestsServiceServicer):
    def __init__(self, requests: PrivacyRequests) -> None:
        self.requests = requests

    def ExportContactData(
        self, request: privacy_pb2.ExportContactDataRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.PrivacyRequest:
        return to_proto(self.requests.export(current_principal(), request.id))

    def EraseContact(
        self, request: privacy_pb2.EraseContactRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.PrivacyRequest:
        return to_proto(self.requests.erase(current_principal(), request.id))

    def GetPrivacyRequest(
        self, request: privacy_pb2.GetPrivacyRequestRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.PrivacyRequest:
        return to_proto(self.requests.get(current_principal(), request.id))
