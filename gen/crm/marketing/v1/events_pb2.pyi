import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Engagement(_message.Message):
    __slots__ = ("contact_id", "email", "campaign_id", "campaign_name", "sequence_id", "message_id", "occur_time")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    email: str
    campaign_id: str
    campaign_name: str
    sequence_id: str
    message_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, contact_id: _Optional[str] = ..., email: _Optional[str] = ..., campaign_id: _Optional[str] = ..., campaign_name: _Optional[str] = ..., sequence_id: _Optional[str] = ..., message_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EmailSent(_message.Message):
    __slots__ = ("engagement", "subject")
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    subject: str
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ..., subject: _Optional[str] = ...) -> None: ...

class EmailOpened(_message.Message):
    __slots__ = ("engagement",)
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ...) -> None: ...

class EmailClicked(_message.Message):
    __slots__ = ("engagement", "url")
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    url: str
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ..., url: _Optional[str] = ...) -> None: ...

class EmailBounced(_message.Message):
    __slots__ = ("engagement", "hard", "reason")
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    hard: bool
    reason: str
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ..., hard: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class EmailComplained(_message.Message):
    __slots__ = ("engagement",)
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ...) -> None: ...

class Unsubscribed(_message.Message):
    __slots__ = ("engagement", "channel")
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    channel: str
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class FormSubmitted(_message.Message):
    __slots__ = ("engagement", "form_id", "form_name")
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    FORM_ID_FIELD_NUMBER: _ClassVar[int]
    FORM_NAME_FIELD_NUMBER: _ClassVar[int]
    engagement: Engagement
    form_id: str
    form_name: str
    def __init__(self, engagement: _Optional[_Union[Engagement, _Mapping]] = ..., form_id: _Optional[str] = ..., form_name: _Optional[str] = ...) -> None: ...
