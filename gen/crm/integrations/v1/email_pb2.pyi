import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SendEmailRequest(_message.Message):
    __slots__ = ("idempotency_key", "connection_id", "from_address", "to_addresses", "cc_addresses", "subject", "text_body", "html_body", "headers", "in_reply_to", "references", "message_id", "origin", "origin_ref")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CC_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TEXT_BODY_FIELD_NUMBER: _ClassVar[int]
    HTML_BODY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_REF_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    connection_id: str
    from_address: str
    to_addresses: _containers.RepeatedScalarFieldContainer[str]
    cc_addresses: _containers.RepeatedScalarFieldContainer[str]
    subject: str
    text_body: str
    html_body: str
    headers: _containers.ScalarMap[str, str]
    in_reply_to: str
    references: _containers.RepeatedScalarFieldContainer[str]
    message_id: str
    origin: str
    origin_ref: str
    def __init__(self, idempotency_key: _Optional[str] = ..., connection_id: _Optional[str] = ..., from_address: _Optional[str] = ..., to_addresses: _Optional[_Iterable[str]] = ..., cc_addresses: _Optional[_Iterable[str]] = ..., subject: _Optional[str] = ..., text_body: _Optional[str] = ..., html_body: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., in_reply_to: _Optional[str] = ..., references: _Optional[_Iterable[str]] = ..., message_id: _Optional[str] = ..., origin: _Optional[str] = ..., origin_ref: _Optional[str] = ...) -> None: ...

class EmailDelivery(_message.Message):
    __slots__ = ("id", "connection_id", "message_id", "status", "error", "to_addresses", "sent_time")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[EmailDelivery.Status]
        SENT: _ClassVar[EmailDelivery.Status]
        FAILED: _ClassVar[EmailDelivery.Status]
        QUEUED: _ClassVar[EmailDelivery.Status]
        SENDING: _ClassVar[EmailDelivery.Status]
    STATUS_UNSPECIFIED: EmailDelivery.Status
    SENT: EmailDelivery.Status
    FAILED: EmailDelivery.Status
    QUEUED: EmailDelivery.Status
    SENDING: EmailDelivery.Status
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    SENT_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    connection_id: str
    message_id: str
    status: EmailDelivery.Status
    error: str
    to_addresses: _containers.RepeatedScalarFieldContainer[str]
    sent_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., connection_id: _Optional[str] = ..., message_id: _Optional[str] = ..., status: _Optional[_Union[EmailDelivery.Status, str]] = ..., error: _Optional[str] = ..., to_addresses: _Optional[_Iterable[str]] = ..., sent_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
