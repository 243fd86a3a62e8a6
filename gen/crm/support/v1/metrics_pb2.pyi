import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetSupportMetricsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "group_by")
    class GroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        GROUP_BY_UNSPECIFIED: _ClassVar[GetSupportMetricsRequest.GroupBy]
        AGENT: _ClassVar[GetSupportMetricsRequest.GroupBy]
        GROUP: _ClassVar[GetSupportMetricsRequest.GroupBy]
    GROUP_BY_UNSPECIFIED: GetSupportMetricsRequest.GroupBy
    AGENT: GetSupportMetricsRequest.GroupBy
    GROUP: GetSupportMetricsRequest.GroupBy
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    group_by: GetSupportMetricsRequest.GroupBy
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Union[GetSupportMetricsRequest.GroupBy, str]] = ...) -> None: ...

class SupportMetrics(_message.Message):
    __slots__ = ("start_time", "end_time", "overall", "rows")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    overall: SupportMetricsRow
    rows: _containers.RepeatedCompositeFieldContainer[SupportMetricsRow]
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overall: _Optional[_Union[SupportMetricsRow, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[SupportMetricsRow, _Mapping]]] = ...) -> None: ...

class SupportMetricsRow(_message.Message):
    __slots__ = ("key", "tickets_created", "first_response_average", "first_response_median", "resolution_average", "resolution_median", "sla_targets", "sla_targets_met", "sla_compliance", "backlog", "solved_tickets", "reopened_tickets", "reopen_rate", "csat_responses", "csat_average", "csat_satisfied_rate", "nps_responses", "nps")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TICKETS_CREATED_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_AVERAGE_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_MEDIAN_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_AVERAGE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_MEDIAN_FIELD_NUMBER: _ClassVar[int]
    SLA_TARGETS_FIELD_NUMBER: _ClassVar[int]
    SLA_TARGETS_MET_FIELD_NUMBER: _ClassVar[int]
    SLA_COMPLIANCE_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    SOLVED_TICKETS_FIELD_NUMBER: _ClassVar[int]
    REOPENED_TICKETS_FIELD_NUMBER: _ClassVar[int]
    REOPEN_RATE_FIELD_NUMBER: _ClassVar[int]
    CSAT_RESPONSES_FIELD_NUMBER: _ClassVar[int]
    CSAT_AVERAGE_FIELD_NUMBER: _ClassVar[int]
    CSAT_SATISFIED_RATE_FIELD_NUMBER: _ClassVar[int]
    NPS_RESPONSES_FIELD_NUMBER: _ClassVar[int]
    NPS_FIELD_NUMBER: _ClassVar[int]
    key: str
    tickets_created: int
    first_response_average: _duration_pb2.Duration
    first_response_median: _duration_pb2.Duration
    resolution_average: _duration_pb2.Duration
    resolution_median: _duration_pb2.Duration
    sla_targets: int
    sla_targets_met: int
    sla_compliance: float
    backlog: int
    solved_tickets: int
    reopened_tickets: int
    reopen_rate: float
    csat_responses: int
    csat_average: float
    csat_satisfied_rate: float
    nps_responses: int
    nps: float
    def __init__(self, key: _Optional[str] = ..., tickets_created: _Optional[int] = ..., first_response_average: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., first_response_median: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., resolution_average: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., resolution_median: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., sla_targets: _Optional[int] = ..., sla_targets_met: _Optional[int] = ..., sla_compliance: _Optional[float] = ..., backlog: _Optional[int] = ..., solved_tickets: _Optional[int] = ..., reopened_tickets: _Optional[int] = ..., reopen_rate: _Optional[float] = ..., csat_responses: _Optional[int] = ..., csat_average: _Optional[float] = ..., csat_satisfied_rate: _Optional[float] = ..., nps_responses: _Optional[int] = ..., nps: _Optional[float] = ...) -> None: ...
