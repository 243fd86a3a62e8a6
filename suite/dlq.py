"""Turning a dead letter into something an operator can read."""

from __future__ import annotations

from typing import Any

from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError

from crmkit.events.transport import DeadLetter
from crmkit.protos import generated_modules


def describe(letter: DeadLetter) -> dict[str, Any]:
    found: dict[str, Any] = {"id": letter.message_id, "type": letter.event_type, "error": letter.error}
    try:
        envelope = Envelope.FromString(letter.body)
    except DecodeError:
        found["body"] = "undecodable: not a crm.events.v1.Envelope"
        found["bodyBytes"] = len(letter.body)
        return found
    found["envelope"] = json_format.MessageToDict(envelope, preserving_proto_field_name=True)
    found["envelope"].pop("data", None)
    try:
        generated_modules()
        descriptor = descriptor_pool.Default().FindMessageTypeByName(envelope.type)
        payload = message_factory.GetMessageClass(descriptor).FromString(envelope.data)
        found["payload"] = json_format.MessageToDict(payload)
    except (KeyError, DecodeError) as exc:
        found["payload"] = f"cannot decode {envelope.type}: {type(exc).__name__}"
    return found
