import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from crm.support.v1 import tickets_pb2 as _tickets_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SlaPolicy(_message.Message):
    __slots__ = ("id", "name", "customer_tier", "calendar", "targets", "warning_percent", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    WARNING_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    customer_tier: str
    calendar: BusinessCalendar
    targets: _containers.RepeatedCompositeFieldContainer[SlaTarget]
    warning_percent: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., customer_tier: _Optional[str] = ..., calendar: _Optional[_Union[BusinessCalendar, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[SlaTarget, _Mapping]]] = ..., warning_percent: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SlaTarget(_message.Message):
    __slots__ = ("priority", "first_response_minutes", "resolution_minutes")
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    priority: _tickets_pb2.Ticket.Priority
    first_response_minutes: int
    resolution_minutes: int
    def __init__(self, priority: _Optional[_Union[_tickets_pb2.Ticket.Priority, str]] = ..., first_response_minutes: _Optional[int] = ..., resolution_minutes: _Optional[int] = ...) -> None: ...

class BusinessCalendar(_message.Message):
    __slots__ = ("time_zone", "working_hours", "holidays")
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    WORKING_HOURS_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    time_zone: str
    working_hours: _containers.RepeatedCompositeFieldContainer[WorkingHours]
    holidays: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, time_zone: _Optional[str] = ..., working_hours: _Optional[_Iterable[_Union[WorkingHours, _Mapping]]] = ..., holidays: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkingHours(_message.Message):
    __slots__ = ("day", "start_time", "end_time")
    DAY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    day: int
    start_time: str
    end_time: str
    def __init__(self, day: _Optional[int] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ...) -> None: ...

class CreateSlaPolicyRequest(_message.Message):
    __slots__ = ("sla_policy",)
    SLA_POLICY_FIELD_NUMBER: _ClassVar[int]
    sla_policy: SlaPolicy
    def __init__(self, sla_policy: _Optional[_Union[SlaPolicy, _Mapping]] = ...) -> None: ...

class GetSlaPolicyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListSlaPoliciesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSlaPoliciesResponse(_message.Message):
    __slots__ = ("sla_policies", "next_page_token")
    SLA_POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sla_policies: _containers.RepeatedCompositeFieldContainer[SlaPolicy]
    next_page_token: str
    def __init__(self, sla_policies: _Optional[_Iterable[_Union[SlaPolicy, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteSlaPolicyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...
