import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportJob(_message.Message):
    __slots__ = ("id", "state", "column_mapping", "match_key", "allow_partial", "validate_only", "chunks_received", "bytes_received", "rows_total", "rows_processed", "rows_created", "rows_updated", "rows_failed", "progress_percent", "error_message", "create_time", "update_time")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[ImportJob.State]
        UPLOADING: _ClassVar[ImportJob.State]
        QUEUED: _ClassVar[ImportJob.State]
        VALIDATING: _ClassVar[ImportJob.State]
        IMPORTING: _ClassVar[ImportJob.State]
        SUCCEEDED: _ClassVar[ImportJob.State]
        FAILED: _ClassVar[ImportJob.State]
        CANCELLED: _ClassVar[ImportJob.State]
    STATE_UNSPECIFIED: ImportJob.State
    UPLOADING: ImportJob.State
    QUEUED: ImportJob.State
    VALIDATING: ImportJob.State
    IMPORTING: ImportJob.State
    SUCCEEDED: ImportJob.State
    FAILED: ImportJob.State
    CANCELLED: ImportJob.State
    class MatchKey(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MATCH_KEY_UNSPECIFIED: _ClassVar[ImportJob.MatchKey]
        EMAIL: _ClassVar[ImportJob.MatchKey]
        EXTERNAL_ID: _ClassVar[ImportJob.MatchKey]
    MATCH_KEY_UNSPECIFIED: ImportJob.MatchKey
    EMAIL: ImportJob.MatchKey
    EXTERNAL_ID: ImportJob.MatchKey
    class ColumnMappingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_MAPPING_FIELD_NUMBER: _ClassVar[int]
    MATCH_KEY_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ROWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    ROWS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ROWS_UPDATED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FAILED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: ImportJob.State
    column_mapping: _containers.ScalarMap[str, str]
    match_key: ImportJob.MatchKey
    allow_partial: bool
    validate_only: bool
    chunks_received: int
    bytes_received: int
    rows_total: int
    rows_processed: int
    rows_created: int
    rows_updated: int
    rows_failed: int
    progress_percent: int
    error_message: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[ImportJob.State, str]] = ..., column_mapping: _Optional[_Mapping[str, str]] = ..., match_key: _Optional[_Union[ImportJob.MatchKey, str]] = ..., allow_partial: _Optional[bool] = ..., validate_only: _Optional[bool] = ..., chunks_received: _Optional[int] = ..., bytes_received: _Optional[int] = ..., rows_total: _Optional[int] = ..., rows_processed: _Optional[int] = ..., rows_created: _Optional[int] = ..., rows_updated: _Optional[int] = ..., rows_failed: _Optional[int] = ..., progress_percent: _Optional[int] = ..., error_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateImportJobRequest(_message.Message):
    __slots__ = ("import_job",)
    IMPORT_JOB_FIELD_NUMBER: _ClassVar[int]
    import_job: ImportJob
    def __init__(self, import_job: _Optional[_Union[ImportJob, _Mapping]] = ...) -> None: ...

class UploadImportChunkRequest(_message.Message):
    __slots__ = ("id", "sequence", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    data: bytes
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class StartImportJobRequest(_message.Message):
    __slots__ = ("id", "chunk_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    chunk_count: int
    def __init__(self, id: _Optional[str] = ..., chunk_count: _Optional[int] = ...) -> None: ...

class CancelImportJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetImportJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListImportJobErrorsRequest(_message.Message):
    __slots__ = ("id", "page_size", "page_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    page_size: int
    page_token: str
    def __init__(self, id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ImportRowError(_message.Message):
    __slots__ = ("row_number", "field", "message")
    ROW_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    row_number: int
    field: str
    message: str
    def __init__(self, row_number: _Optional[int] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListImportJobErrorsResponse(_message.Message):
    __slots__ = ("errors", "next_page_token")
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[ImportRowError]
    next_page_token: str
    def __init__(self, errors: _Optional[_Iterable[_Union[ImportRowError, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportContactsRequest(_message.Message):
    __slots__ = ("filter", "order_by")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    filter: str
    order_by: str
    def __init__(self, filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...
