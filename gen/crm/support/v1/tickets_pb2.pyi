import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ticket(_message.Message):
    __slots__ = ("id", "subject", "description", "requester_id", "priority", "status", "channel", "tags", "assignee_id", "group_id", "required_skills", "customer_tier", "external_thread_id", "create_time", "update_time", "first_response_time", "solve_time", "reopen_count", "first_response_due_time", "resolution_due_time", "history", "etag")
    class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PRIORITY_UNSPECIFIED: _ClassVar[Ticket.Priority]
        LOW: _ClassVar[Ticket.Priority]
        NORMAL: _ClassVar[Ticket.Priority]
        HIGH: _ClassVar[Ticket.Priority]
        URGENT: _ClassVar[Ticket.Priority]
    PRIORITY_UNSPECIFIED: Ticket.Priority
    LOW: Ticket.Priority
    NORMAL: Ticket.Priority
    HIGH: Ticket.Priority
    URGENT: Ticket.Priority
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Ticket.Status]
        NEW: _ClassVar[Ticket.Status]
        OPEN: _ClassVar[Ticket.Status]
        PENDING: _ClassVar[Ticket.Status]
        SOLVED: _ClassVar[Ticket.Status]
        CLOSED: _ClassVar[Ticket.Status]
    STATUS_UNSPECIFIED: Ticket.Status
    NEW: Ticket.Status
    OPEN: Ticket.Status
    PENDING: Ticket.Status
    SOLVED: Ticket.Status
    CLOSED: Ticket.Status
    class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CHANNEL_UNSPECIFIED: _ClassVar[Ticket.Channel]
        EMAIL: _ClassVar[Ticket.Channel]
        API: _ClassVar[Ticket.Channel]
        WEB_FORM: _ClassVar[Ticket.Channel]
    CHANNEL_UNSPECIFIED: Ticket.Channel
    EMAIL: Ticket.Channel
    API: Ticket.Channel
    WEB_FORM: Ticket.Channel
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    REOPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    description: str
    requester_id: str
    priority: Ticket.Priority
    status: Ticket.Status
    channel: Ticket.Channel
    tags: _containers.RepeatedScalarFieldContainer[str]
    assignee_id: str
    group_id: str
    required_skills: _containers.RepeatedScalarFieldContainer[str]
    customer_tier: str
    external_thread_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    first_response_time: _timestamp_pb2.Timestamp
    solve_time: _timestamp_pb2.Timestamp
    reopen_count: int
    first_response_due_time: _timestamp_pb2.Timestamp
    resolution_due_time: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[TicketHistoryEntry]
    etag: str
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., requester_id: _Optional[str] = ..., priority: _Optional[_Union[Ticket.Priority, str]] = ..., status: _Optional[_Union[Ticket.Status, str]] = ..., channel: _Optional[_Union[Ticket.Channel, str]] = ..., tags: _Optional[_Iterable[str]] = ..., assignee_id: _Optional[str] = ..., group_id: _Optional[str] = ..., required_skills: _Optional[_Iterable[str]] = ..., customer_tier: _Optional[str] = ..., external_thread_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., solve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reopen_count: _Optional[int] = ..., first_response_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[TicketHistoryEntry, _Mapping]]] = ..., etag: _Optional[str] = ...) -> None: ...

class TicketHistoryEntry(_message.Message):
    __slots__ = ("time", "kind", "actor", "message")
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    kind: str
    actor: str
    message: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., actor: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Comment(_message.Message):
    __slots__ = ("id", "ticket_id", "body", "visibility", "author_type", "author_id", "external_message_id", "in_reply_to", "create_time")
    class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        VISIBILITY_UNSPECIFIED: _ClassVar[Comment.Visibility]
        PUBLIC: _ClassVar[Comment.Visibility]
        INTERNAL: _ClassVar[Comment.Visibility]
    VISIBILITY_UNSPECIFIED: Comment.Visibility
    PUBLIC: Comment.Visibility
    INTERNAL: Comment.Visibility
    class AuthorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        AUTHOR_TYPE_UNSPECIFIED: _ClassVar[Comment.AuthorType]
        AGENT: _ClassVar[Comment.AuthorType]
        REQUESTER: _ClassVar[Comment.AuthorType]
    AUTHOR_TYPE_UNSPECIFIED: Comment.AuthorType
    AGENT: Comment.AuthorType
    REQUESTER: Comment.AuthorType
    ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    ticket_id: str
    body: str
    visibility: Comment.Visibility
    author_type: Comment.AuthorType
    author_id: str
    external_message_id: str
    in_reply_to: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., body: _Optional[str] = ..., visibility: _Optional[_Union[Comment.Visibility, str]] = ..., author_type: _Optional[_Union[Comment.AuthorType, str]] = ..., author_id: _Optional[str] = ..., external_message_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTicketRequest(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class GetTicketRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListTicketsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListTicketsResponse(_message.Message):
    __slots__ = ("tickets", "next_page_token")
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[Ticket]
    next_page_token: str
    def __init__(self, tickets: _Optional[_Iterable[_Union[Ticket, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateTicketRequest(_message.Message):
    __slots__ = ("id", "ticket", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    ticket: Ticket
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., ticket: _Optional[_Union[Ticket, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class CloseTicketRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class AddCommentRequest(_message.Message):
    __slots__ = ("ticket_id", "comment")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    comment: Comment
    def __init__(self, ticket_id: _Optional[str] = ..., comment: _Optional[_Union[Comment, _Mapping]] = ...) -> None: ...

class ListCommentsRequest(_message.Message):
    __slots__ = ("ticket_id", "page_size", "page_token")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    page_size: int
    page_token: str
    def __init__(self, ticket_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCommentsResponse(_message.Message):
    __slots__ = ("comments", "next_page_token")
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    comments: _containers.RepeatedCompositeFieldContainer[Comment]
    next_page_token: str
    def __init__(self, comments: _Optional[_Iterable[_Union[Comment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
