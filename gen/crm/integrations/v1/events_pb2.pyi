import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceCreated(_message.Message):
    __slots__ = ("invoice_id", "external_system", "external_id", "invoice_number", "contact_id", "account_id", "opportunity_id", "quote_id", "total", "balance", "issue_date", "due_date")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    external_system: str
    external_id: str
    invoice_number: str
    contact_id: str
    account_id: str
    opportunity_id: str
    quote_id: str
    total: _money_pb2.Money
    balance: _money_pb2.Money
    issue_date: _date_pb2.Date
    due_date: _date_pb2.Date
    def __init__(self, invoice_id: _Optional[str] = ..., external_system: _Optional[str] = ..., external_id: _Optional[str] = ..., invoice_number: _Optional[str] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., quote_id: _Optional[str] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., issue_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., due_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ...) -> None: ...

class PaymentReceived(_message.Message):
    __slots__ = ("payment_id", "invoice_id", "external_system", "external_id", "contact_id", "account_id", "amount", "paid_time")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_TIME_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    invoice_id: str
    external_system: str
    external_id: str
    contact_id: str
    account_id: str
    amount: _money_pb2.Money
    paid_time: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., external_system: _Optional[str] = ..., external_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InboundEmailReceived(_message.Message):
    __slots__ = ("connection_id", "message_id", "in_reply_to", "references", "from_address", "from_name", "to_addresses", "cc_addresses", "subject", "text_body", "received_time", "mailbox_purpose", "support_addresses")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    FROM_NAME_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CC_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TEXT_BODY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_FIELD_NUMBER: _ClassVar[int]
    MAILBOX_PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    message_id: str
    in_reply_to: str
    references: _containers.RepeatedScalarFieldContainer[str]
    from_address: str
    from_name: str
    to_addresses: _containers.RepeatedScalarFieldContainer[str]
    cc_addresses: _containers.RepeatedScalarFieldContainer[str]
    subject: str
    text_body: str
    received_time: _timestamp_pb2.Timestamp
    mailbox_purpose: str
    support_addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connection_id: _Optional[str] = ..., message_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., references: _Optional[_Iterable[str]] = ..., from_address: _Optional[str] = ..., from_name: _Optional[str] = ..., to_addresses: _Optional[_Iterable[str]] = ..., cc_addresses: _Optional[_Iterable[str]] = ..., subject: _Optional[str] = ..., text_body: _Optional[str] = ..., received_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mailbox_purpose: _Optional[str] = ..., support_addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class OutboundEmailSent(_message.Message):
    __slots__ = ("delivery_id", "message_id", "to_addresses", "subject", "origin", "origin_ref", "sent_time", "connection_id", "cc_addresses", "in_reply_to")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_REF_FIELD_NUMBER: _ClassVar[int]
    SENT_TIME_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CC_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    message_id: str
    to_addresses: _containers.RepeatedScalarFieldContainer[str]
    subject: str
    origin: str
    origin_ref: str
    sent_time: _timestamp_pb2.Timestamp
    connection_id: str
    cc_addresses: _containers.RepeatedScalarFieldContainer[str]
    in_reply_to: str
    def __init__(self, delivery_id: _Optional[str] = ..., message_id: _Optional[str] = ..., to_addresses: _Optional[_Iterable[str]] = ..., subject: _Optional[str] = ..., origin: _Optional[str] = ..., origin_ref: _Optional[str] = ..., sent_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connection_id: _Optional[str] = ..., cc_addresses: _Optional[_Iterable[str]] = ..., in_reply_to: _Optional[str] = ...) -> None: ...

class EmailBounceReceived(_message.Message):
    __slots__ = ("connection_id", "original_message_id", "recipient", "status", "action", "diagnostic", "permanent", "source", "report_id", "delivery_id", "occur_time")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTIC_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    original_message_id: str
    recipient: str
    status: str
    action: str
    diagnostic: str
    permanent: bool
    source: str
    report_id: str
    delivery_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., original_message_id: _Optional[str] = ..., recipient: _Optional[str] = ..., status: _Optional[str] = ..., action: _Optional[str] = ..., diagnostic: _Optional[str] = ..., permanent: _Optional[bool] = ..., source: _Optional[str] = ..., report_id: _Optional[str] = ..., delivery_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EmailComplaintReceived(_message.Message):
    __slots__ = ("connection_id", "original_message_id", "recipient", "feedback_type", "report_id", "occur_time")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    original_message_id: str
    recipient: str
    feedback_type: str
    report_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., original_message_id: _Optional[str] = ..., recipient: _Optional[str] = ..., feedback_type: _Optional[str] = ..., report_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
