import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sequence(_message.Message):
    __slots__ = ("id", "name", "segment_id", "steps", "state", "active_enrolment_count", "create_time", "update_time", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ENROLMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    segment_id: str
    steps: _containers.RepeatedCompositeFieldContainer[SequenceStep]
    state: str
    active_enrolment_count: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., segment_id: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[SequenceStep, _Mapping]]] = ..., state: _Optional[str] = ..., active_enrolment_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class SequenceStep(_message.Message):
    __slots__ = ("email", "wait", "condition")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    email: EmailStep
    wait: WaitStep
    condition: ConditionStep
    def __init__(self, email: _Optional[_Union[EmailStep, _Mapping]] = ..., wait: _Optional[_Union[WaitStep, _Mapping]] = ..., condition: _Optional[_Union[ConditionStep, _Mapping]] = ...) -> None: ...

class EmailStep(_message.Message):
    __slots__ = ("template_id",)
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class WaitStep(_message.Message):
    __slots__ = ("delay",)
    DELAY_FIELD_NUMBER: _ClassVar[int]
    delay: _duration_pb2.Duration
    def __init__(self, delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ConditionStep(_message.Message):
    __slots__ = ("rules", "else_step")
    RULES_FIELD_NUMBER: _ClassVar[int]
    ELSE_STEP_FIELD_NUMBER: _ClassVar[int]
    rules: _struct_pb2.Struct
    else_step: int
    def __init__(self, rules: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., else_step: _Optional[int] = ...) -> None: ...

class CreateSequenceRequest(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: Sequence
    def __init__(self, sequence: _Optional[_Union[Sequence, _Mapping]] = ...) -> None: ...

class GetSequenceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListSequencesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSequencesResponse(_message.Message):
    __slots__ = ("sequences", "next_page_token")
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sequences: _containers.RepeatedCompositeFieldContainer[Sequence]
    next_page_token: str
    def __init__(self, sequences: _Optional[_Iterable[_Union[Sequence, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSequenceRequest(_message.Message):
    __slots__ = ("id", "sequence", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: Sequence
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[_Union[Sequence, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteSequenceRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ActivateSequenceRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class PauseSequenceRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class Enrolment(_message.Message):
    __slots__ = ("id", "sequence_id", "contact_id", "source", "status", "current_step", "next_run_time", "exit_reason", "exit_detail", "enrol_time", "end_time", "step_runs")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STEP_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    EXIT_REASON_FIELD_NUMBER: _ClassVar[int]
    EXIT_DETAIL_FIELD_NUMBER: _ClassVar[int]
    ENROL_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_RUNS_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence_id: str
    contact_id: str
    source: str
    status: str
    current_step: int
    next_run_time: _timestamp_pb2.Timestamp
    exit_reason: str
    exit_detail: str
    enrol_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    step_runs: _containers.RepeatedCompositeFieldContainer[StepRun]
    def __init__(self, id: _Optional[str] = ..., sequence_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., source: _Optional[str] = ..., status: _Optional[str] = ..., current_step: _Optional[int] = ..., next_run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exit_reason: _Optional[str] = ..., exit_detail: _Optional[str] = ..., enrol_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_runs: _Optional[_Iterable[_Union[StepRun, _Mapping]]] = ...) -> None: ...

class StepRun(_message.Message):
    __slots__ = ("step", "kind", "outcome", "message_id", "detail", "run_time")
    STEP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    step: int
    kind: str
    outcome: str
    message_id: str
    detail: str
    run_time: _timestamp_pb2.Timestamp
    def __init__(self, step: _Optional[int] = ..., kind: _Optional[str] = ..., outcome: _Optional[str] = ..., message_id: _Optional[str] = ..., detail: _Optional[str] = ..., run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrolContactRequest(_message.Message):
    __slots__ = ("sequence_id", "contact_id")
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    sequence_id: str
    contact_id: str
    def __init__(self, sequence_id: _Optional[str] = ..., contact_id: _Optional[str] = ...) -> None: ...

class ListEnrolmentsRequest(_message.Message):
    __slots__ = ("sequence_id", "page_size", "page_token", "status")
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    sequence_id: str
    page_size: int
    page_token: str
    status: str
    def __init__(self, sequence_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListEnrolmentsResponse(_message.Message):
    __slots__ = ("enrolments", "next_page_token")
    ENROLMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrolments: _containers.RepeatedCompositeFieldContainer[Enrolment]
    next_page_token: str
    def __init__(self, enrolments: _Optional[_Iterable[_Union[Enrolment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetEnrolmentRequest(_message.Message):
    __slots__ = ("sequence_id", "id")
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    sequence_id: str
    id: str
    def __init__(self, sequence_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ExitEnrolmentRequest(_message.Message):
    __slots__ = ("sequence_id", "id")
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    sequence_id: str
    id: str
    def __init__(self, sequence_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...
