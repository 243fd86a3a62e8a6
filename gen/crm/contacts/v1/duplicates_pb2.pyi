import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from crm.contacts.v1 import contacts_pb2 as _contacts_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FieldMatch(_message.Message):
    __slots__ = ("field", "how", "similarity")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    field: str
    how: str
    similarity: float
    def __init__(self, field: _Optional[str] = ..., how: _Optional[str] = ..., similarity: _Optional[float] = ...) -> None: ...

class DuplicateCandidate(_message.Message):
    __slots__ = ("contact", "score", "matches")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    contact: _contacts_pb2.Contact
    score: float
    matches: _containers.RepeatedCompositeFieldContainer[FieldMatch]
    def __init__(self, contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ..., score: _Optional[float] = ..., matches: _Optional[_Iterable[_Union[FieldMatch, _Mapping]]] = ...) -> None: ...

class FindDuplicatesRequest(_message.Message):
    __slots__ = ("id", "threshold", "page_size")
    ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    threshold: float
    page_size: int
    def __init__(self, id: _Optional[str] = ..., threshold: _Optional[float] = ..., page_size: _Optional[int] = ...) -> None: ...

class FindDuplicatesResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[DuplicateCandidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[DuplicateCandidate, _Mapping]]] = ...) -> None: ...

class MergeContactsRequest(_message.Message):
    __slots__ = ("id", "loser_ids", "etag", "loser_etags", "field_choices")
    class LoserEtagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class FieldChoicesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LOSER_IDS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LOSER_ETAGS_FIELD_NUMBER: _ClassVar[int]
    FIELD_CHOICES_FIELD_NUMBER: _ClassVar[int]
    id: str
    loser_ids: _containers.RepeatedScalarFieldContainer[str]
    etag: str
    loser_etags: _containers.ScalarMap[str, str]
    field_choices: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., loser_ids: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ..., loser_etags: _Optional[_Mapping[str, str]] = ..., field_choices: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DuplicateScan(_message.Message):
    __slots__ = ("id", "threshold", "state", "phase", "processed", "total_contacts", "pairs_found", "error", "create_time", "update_time")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[DuplicateScan.State]
        RUNNING: _ClassVar[DuplicateScan.State]
        SUCCEEDED: _ClassVar[DuplicateScan.State]
        FAILED: _ClassVar[DuplicateScan.State]
    STATE_UNSPECIFIED: DuplicateScan.State
    RUNNING: DuplicateScan.State
    SUCCEEDED: DuplicateScan.State
    FAILED: DuplicateScan.State
    ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FOUND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    threshold: float
    state: DuplicateScan.State
    phase: str
    processed: int
    total_contacts: int
    pairs_found: int
    error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., threshold: _Optional[float] = ..., state: _Optional[_Union[DuplicateScan.State, str]] = ..., phase: _Optional[str] = ..., processed: _Optional[int] = ..., total_contacts: _Optional[int] = ..., pairs_found: _Optional[int] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDuplicateScanRequest(_message.Message):
    __slots__ = ("duplicate_scan",)
    DUPLICATE_SCAN_FIELD_NUMBER: _ClassVar[int]
    duplicate_scan: DuplicateScan
    def __init__(self, duplicate_scan: _Optional[_Union[DuplicateScan, _Mapping]] = ...) -> None: ...

class GetDuplicateScanRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DuplicatePair(_message.Message):
    __slots__ = ("contact_id", "other_contact_id", "score", "matches")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    other_contact_id: str
    score: float
    matches: _containers.RepeatedCompositeFieldContainer[FieldMatch]
    def __init__(self, contact_id: _Optional[str] = ..., other_contact_id: _Optional[str] = ..., score: _Optional[float] = ..., matches: _Optional[_Iterable[_Union[FieldMatch, _Mapping]]] = ...) -> None: ...

class ListDuplicatePairsRequest(_message.Message):
    __slots__ = ("id", "page_size", "page_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    page_size: int
    page_token: str
    def __init__(self, id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDuplicatePairsResponse(_message.Message):
    __slots__ = ("pairs", "next_page_token")
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[DuplicatePair]
    next_page_token: str
    def __init__(self, pairs: _Optional[_Iterable[_Union[DuplicatePair, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
