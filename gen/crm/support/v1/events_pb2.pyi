import datetime

from crm.support.v1 import surveys_pb2 as _surveys_pb2
from crm.support.v1 import tickets_pb2 as _tickets_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SlaTargetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLA_TARGET_KIND_UNSPECIFIED: _ClassVar[SlaTargetKind]
    FIRST_RESPONSE: _ClassVar[SlaTargetKind]
    RESOLUTION: _ClassVar[SlaTargetKind]
SLA_TARGET_KIND_UNSPECIFIED: SlaTargetKind
FIRST_RESPONSE: SlaTargetKind
RESOLUTION: SlaTargetKind

class TicketCreated(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _tickets_pb2.Ticket
    def __init__(self, ticket: _Optional[_Union[_tickets_pb2.Ticket, _Mapping]] = ...) -> None: ...

class TicketUpdated(_message.Message):
    __slots__ = ("ticket", "changed_fields")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ticket: _tickets_pb2.Ticket
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, ticket: _Optional[_Union[_tickets_pb2.Ticket, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class TicketStatusChanged(_message.Message):
    __slots__ = ("ticket_id", "from_status", "to_status", "ticket")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    from_status: _tickets_pb2.Ticket.Status
    to_status: _tickets_pb2.Ticket.Status
    ticket: _tickets_pb2.Ticket
    def __init__(self, ticket_id: _Optional[str] = ..., from_status: _Optional[_Union[_tickets_pb2.Ticket.Status, str]] = ..., to_status: _Optional[_Union[_tickets_pb2.Ticket.Status, str]] = ..., ticket: _Optional[_Union[_tickets_pb2.Ticket, _Mapping]] = ...) -> None: ...

class TicketAssigned(_message.Message):
    __slots__ = ("ticket_id", "assignee_id", "previous_assignee_id", "group_id", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    assignee_id: str
    previous_assignee_id: str
    group_id: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., previous_assignee_id: _Optional[str] = ..., group_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CommentAdded(_message.Message):
    __slots__ = ("comment", "external_thread_id")
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    comment: _tickets_pb2.Comment
    external_thread_id: str
    def __init__(self, comment: _Optional[_Union[_tickets_pb2.Comment, _Mapping]] = ..., external_thread_id: _Optional[str] = ...) -> None: ...

class AgentAvailabilityChanged(_message.Message):
    __slots__ = ("agent_id", "available", "released_ticket_ids")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RELEASED_TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    available: bool
    released_ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., available: _Optional[bool] = ..., released_ticket_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TicketSlaWarning(_message.Message):
    __slots__ = ("ticket_id", "target", "due_time", "policy_id")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    target: SlaTargetKind
    due_time: _timestamp_pb2.Timestamp
    policy_id: str
    def __init__(self, ticket_id: _Optional[str] = ..., target: _Optional[_Union[SlaTargetKind, str]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., policy_id: _Optional[str] = ...) -> None: ...

class TicketSlaBreached(_message.Message):
    __slots__ = ("ticket_id", "target", "due_time", "policy_id", "priority")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    target: SlaTargetKind
    due_time: _timestamp_pb2.Timestamp
    policy_id: str
    priority: _tickets_pb2.Ticket.Priority
    def __init__(self, ticket_id: _Optional[str] = ..., target: _Optional[_Union[SlaTargetKind, str]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., policy_id: _Optional[str] = ..., priority: _Optional[_Union[_tickets_pb2.Ticket.Priority, str]] = ...) -> None: ...

class SurveyCreated(_message.Message):
    __slots__ = ("survey_id", "kind", "ticket_id", "requester_id", "token", "expire_time")
    SURVEY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    survey_id: str
    kind: _surveys_pb2.Survey.Kind
    ticket_id: str
    requester_id: str
    token: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, survey_id: _Optional[str] = ..., kind: _Optional[_Union[_surveys_pb2.Survey.Kind, str]] = ..., ticket_id: _Optional[str] = ..., requester_id: _Optional[str] = ..., token: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SurveyAnswered(_message.Message):
    __slots__ = ("survey_id", "kind", "ticket_id", "agent_id", "score", "comment", "requester_id", "response_time")
    SURVEY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    survey_id: str
    kind: _surveys_pb2.Survey.Kind
    ticket_id: str
    agent_id: str
    score: int
    comment: str
    requester_id: str
    response_time: _timestamp_pb2.Timestamp
    def __init__(self, survey_id: _Optional[str] = ..., kind: _Optional[_Union[_surveys_pb2.Survey.Kind, str]] = ..., ticket_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ..., requester_id: _Optional[str] = ..., response_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
