import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Connection(_message.Message):
    __slots__ = ("id", "type", "display_name", "host", "port", "security", "username", "password", "has_password", "from_address", "mailbox", "purpose", "support_addresses", "ca_certificate", "create_time", "update_time", "key_id", "base_url", "database", "realm_id", "xero_tenant_id", "api_key", "has_api_key", "oauth2", "requests_per_minute", "field_mappings", "webhook_key", "has_webhook_key")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[Connection.Type]
        SMTP: _ClassVar[Connection.Type]
        IMAP: _ClassVar[Connection.Type]
        ODOO: _ClassVar[Connection.Type]
        QUICKBOOKS: _ClassVar[Connection.Type]
        XERO: _ClassVar[Connection.Type]
    TYPE_UNSPECIFIED: Connection.Type
    SMTP: Connection.Type
    IMAP: Connection.Type
    ODOO: Connection.Type
    QUICKBOOKS: Connection.Type
    XERO: Connection.Type
    class Security(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SECURITY_UNSPECIFIED: _ClassVar[Connection.Security]
        TLS: _ClassVar[Connection.Security]
        STARTTLS: _ClassVar[Connection.Security]
        NONE: _ClassVar[Connection.Security]
    SECURITY_UNSPECIFIED: Connection.Security
    TLS: Connection.Security
    STARTTLS: Connection.Security
    NONE: Connection.Security
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HAS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAILBOX_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    REALM_ID_FIELD_NUMBER: _ClassVar[int]
    XERO_TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    HAS_API_KEY_FIELD_NUMBER: _ClassVar[int]
    OAUTH2_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FIELD_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_KEY_FIELD_NUMBER: _ClassVar[int]
    HAS_WEBHOOK_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: Connection.Type
    display_name: str
    host: str
    port: int
    security: Connection.Security
    username: str
    password: str
    has_password: bool
    from_address: str
    mailbox: str
    purpose: str
    support_addresses: _containers.RepeatedScalarFieldContainer[str]
    ca_certificate: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    key_id: str
    base_url: str
    database: str
    realm_id: str
    xero_tenant_id: str
    api_key: str
    has_api_key: bool
    oauth2: OAuth2
    requests_per_minute: int
    field_mappings: _containers.RepeatedCompositeFieldContainer[FieldMapping]
    webhook_key: str
    has_webhook_key: bool
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[Connection.Type, str]] = ..., display_name: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., security: _Optional[_Union[Connection.Security, str]] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., has_password: _Optional[bool] = ..., from_address: _Optional[str] = ..., mailbox: _Optional[str] = ..., purpose: _Optional[str] = ..., support_addresses: _Optional[_Iterable[str]] = ..., ca_certificate: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., base_url: _Optional[str] = ..., database: _Optional[str] = ..., realm_id: _Optional[str] = ..., xero_tenant_id: _Optional[str] = ..., api_key: _Optional[str] = ..., has_api_key: _Optional[bool] = ..., oauth2: _Optional[_Union[OAuth2, _Mapping]] = ..., requests_per_minute: _Optional[int] = ..., field_mappings: _Optional[_Iterable[_Union[FieldMapping, _Mapping]]] = ..., webhook_key: _Optional[str] = ..., has_webhook_key: _Optional[bool] = ...) -> None: ...

class OAuth2(_message.Message):
    __slots__ = ("client_id", "client_secret", "refresh_token", "access_token", "access_token_expire_time", "token_url", "has_client_secret", "has_refresh_token", "has_access_token")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_URL_FIELD_NUMBER: _ClassVar[int]
    HAS_CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    HAS_REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HAS_ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client_secret: str
    refresh_token: str
    access_token: str
    access_token_expire_time: _timestamp_pb2.Timestamp
    token_url: str
    has_client_secret: bool
    has_refresh_token: bool
    has_access_token: bool
    def __init__(self, client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., refresh_token: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token_url: _Optional[str] = ..., has_client_secret: _Optional[bool] = ..., has_refresh_token: _Optional[bool] = ..., has_access_token: _Optional[bool] = ...) -> None: ...

class FieldMapping(_message.Message):
    __slots__ = ("stream", "external_field", "crm_field", "direction")
    class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DIRECTION_UNSPECIFIED: _ClassVar[FieldMapping.Direction]
        BOTH: _ClassVar[FieldMapping.Direction]
        INBOUND: _ClassVar[FieldMapping.Direction]
        OUTBOUND: _ClassVar[FieldMapping.Direction]
    DIRECTION_UNSPECIFIED: FieldMapping.Direction
    BOTH: FieldMapping.Direction
    INBOUND: FieldMapping.Direction
    OUTBOUND: FieldMapping.Direction
    STREAM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_FIELD_NUMBER: _ClassVar[int]
    CRM_FIELD_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    stream: str
    external_field: str
    crm_field: str
    direction: FieldMapping.Direction
    def __init__(self, stream: _Optional[str] = ..., external_field: _Optional[str] = ..., crm_field: _Optional[str] = ..., direction: _Optional[_Union[FieldMapping.Direction, str]] = ...) -> None: ...

class CreateConnectionRequest(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ("connections", "next_page_token")
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[Connection]
    next_page_token: str
    def __init__(self, connections: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateConnectionRequest(_message.Message):
    __slots__ = ("id", "connection", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    connection: Connection
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., connection: _Optional[_Union[Connection, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CheckConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CheckConnectionResponse(_message.Message):
    __slots__ = ("ok", "steps")
    OK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    steps: _containers.RepeatedCompositeFieldContainer[CheckStep]
    def __init__(self, ok: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[CheckStep, _Mapping]]] = ...) -> None: ...

class CheckStep(_message.Message):
    __slots__ = ("name", "ok", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    ok: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., ok: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class SyncConnectionRequest(_message.Message):
    __slots__ = ("id", "full_refresh")
    ID_FIELD_NUMBER: _ClassVar[int]
    FULL_REFRESH_FIELD_NUMBER: _ClassVar[int]
    id: str
    full_refresh: bool
    def __init__(self, id: _Optional[str] = ..., full_refresh: _Optional[bool] = ...) -> None: ...

class SyncRun(_message.Message):
    __slots__ = ("id", "connection_id", "status", "trigger", "fetched_count", "created_count", "skipped_count", "failed_count", "error", "start_time", "end_time", "updated_count")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[SyncRun.Status]
        RUNNING: _ClassVar[SyncRun.Status]
        SUCCEEDED: _ClassVar[SyncRun.Status]
        FAILED: _ClassVar[SyncRun.Status]
    STATUS_UNSPECIFIED: SyncRun.Status
    RUNNING: SyncRun.Status
    SUCCEEDED: SyncRun.Status
    FAILED: SyncRun.Status
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FETCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    connection_id: str
    status: SyncRun.Status
    trigger: str
    fetched_count: int
    created_count: int
    skipped_count: int
    failed_count: int
    error: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    updated_count: int
    def __init__(self, id: _Optional[str] = ..., connection_id: _Optional[str] = ..., status: _Optional[_Union[SyncRun.Status, str]] = ..., trigger: _Optional[str] = ..., fetched_count: _Optional[int] = ..., created_count: _Optional[int] = ..., skipped_count: _Optional[int] = ..., failed_count: _Optional[int] = ..., error: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_count: _Optional[int] = ...) -> None: ...

class ListSyncRunsRequest(_message.Message):
    __slots__ = ("connection_id", "page_size", "page_token")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    page_size: int
    page_token: str
    def __init__(self, connection_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSyncRunsResponse(_message.Message):
    __slots__ = ("sync_runs", "next_page_token")
    SYNC_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sync_runs: _containers.RepeatedCompositeFieldContainer[SyncRun]
    next_page_token: str
    def __init__(self, sync_runs: _Optional[_Iterable[_Union[SyncRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("id", "connection_id", "stream", "external_id", "error", "attempts", "create_time", "update_time", "resolve_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    connection_id: str
    stream: str
    external_id: str
    error: str
    attempts: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., connection_id: _Optional[str] = ..., stream: _Optional[str] = ..., external_id: _Optional[str] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("connection_id", "page_size", "page_token")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    page_size: int
    page_token: str
    def __init__(self, connection_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "next_page_token")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    next_page_token: str
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReplayDeadLetterRequest(_message.Message):
    __slots__ = ("connection_id", "id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    id: str
    def __init__(self, connection_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...
