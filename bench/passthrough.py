"""The bare baseline for the gateway benchmark: Flask -> gRPC with nothing else (no auth, no rate
limits, no tracing, no metrics), served by gunicorn with the gateway's settings.

    gunicorn 'bench.passthrough:create_app()'   (CRM_CONTACTS_ADDR, CRM_INTERNAL_TOKEN_SECRET)
"""

from __future__ import annotations

import os

import grpc
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from flask import Flask, Response, jsonify, request
from google.protobuf import json_format

from crmkit.tokens import InternalTokens, Principal


def create_app() -> Flask:
    app = Flask("passthrough")
    stub = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(os.environ["CRM_CONTACTS_ADDR"]))
    tokens = InternalTokens(os.environ["CRM_INTERNAL_TOKEN_SECRET"], ttl_seconds=3600)
    metadata = [
        ("authorization", f"Bearer {tokens.mint(Principal(os.environ['BENCH_TENANT'], 'bench', frozenset({'admin'})))}")
    ]

    @app.get("/v1/contacts/<contact_id>")
    def get_contact(contact_id: str) -> Response:
        reply = stub.GetContact(contacts_pb2.GetContactRequest(id=contact_id), metadata=metadata, timeout=5)
        return jsonify(json_format.MessageToDict(reply, always_print_fields_with_no_presence=True))

    @app.get("/v1/contacts")
    def list_contacts() -> Response:
        message = contacts_pb2.ListContactsRequest(
            page_size=int(request.args.get("pageSize", 0)), filter=request.args.get("filter", "")
        )
        reply = stub.ListContacts(message, metadata=metadata, timeout=5)
        return jsonify(json_format.MessageToDict(reply, always_print_fields_with_no_presence=True))

    return app
