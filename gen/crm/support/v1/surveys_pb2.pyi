import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Survey(_message.Message):
    __slots__ = ("id", "kind", "requester_id", "ticket_id", "agent_id", "group_id", "create_time", "expire_time", "token", "response")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Survey.Kind]
        CSAT: _ClassVar[Survey.Kind]
        NPS: _ClassVar[Survey.Kind]
    KIND_UNSPECIFIED: Survey.Kind
    CSAT: Survey.Kind
    NPS: Survey.Kind
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: Survey.Kind
    requester_id: str
    ticket_id: str
    agent_id: str
    group_id: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    token: str
    response: SurveyResponse
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[Survey.Kind, str]] = ..., requester_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., group_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token: _Optional[str] = ..., response: _Optional[_Union[SurveyResponse, _Mapping]] = ...) -> None: ...

class SurveyResponse(_message.Message):
    __slots__ = ("survey_id", "kind", "score", "comment", "response_time")
    SURVEY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    survey_id: str
    kind: Survey.Kind
    score: int
    comment: str
    response_time: _timestamp_pb2.Timestamp
    def __init__(self, survey_id: _Optional[str] = ..., kind: _Optional[_Union[Survey.Kind, str]] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ..., response_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSurveyRequest(_message.Message):
    __slots__ = ("survey",)
    SURVEY_FIELD_NUMBER: _ClassVar[int]
    survey: Survey
    def __init__(self, survey: _Optional[_Union[Survey, _Mapping]] = ...) -> None: ...

class GetSurveyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class SubmitSurveyResponseRequest(_message.Message):
    __slots__ = ("token", "score", "comment")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    token: str
    score: int
    comment: str
    def __init__(self, token: _Optional[str] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...
