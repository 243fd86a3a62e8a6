import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudienceMember(_message.Message):
    __slots__ = ("contact_id", "email", "given_name", "family_name", "lifecycle_stage", "tags", "source_update_time")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_STAGE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    email: str
    given_name: str
    family_name: str
    lifecycle_stage: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    source_update_time: _timestamp_pb2.Timestamp
    def __init__(self, contact_id: _Optional[str] = ..., email: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., lifecycle_stage: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., source_update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetAudienceMemberRequest(_message.Message):
    __slots__ = ("contact_id",)
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    def __init__(self, contact_id: _Optional[str] = ...) -> None: ...

class ListAudienceMembersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAudienceMembersResponse(_message.Message):
    __slots__ = ("audience_members", "next_page_token")
    AUDIENCE_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audience_members: _containers.RepeatedCompositeFieldContainer[AudienceMember]
    next_page_token: str
    def __init__(self, audience_members: _Optional[_Iterable[_Union[AudienceMember, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
