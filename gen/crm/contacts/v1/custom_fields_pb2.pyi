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

class CustomFieldDefinition(_message.Message):
    __slots__ = ("id", "object_type", "key", "label", "type", "options", "required", "description", "create_time", "update_time", "etag")
    class ObjectType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OBJECT_TYPE_UNSPECIFIED: _ClassVar[CustomFieldDefinition.ObjectType]
        CONTACT: _ClassVar[CustomFieldDefinition.ObjectType]
        ACCOUNT: _ClassVar[CustomFieldDefinition.ObjectType]
    OBJECT_TYPE_UNSPECIFIED: CustomFieldDefinition.ObjectType
    CONTACT: CustomFieldDefinition.ObjectType
    ACCOUNT: CustomFieldDefinition.ObjectType
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[CustomFieldDefinition.Type]
        TEXT: _ClassVar[CustomFieldDefinition.Type]
        NUMBER: _ClassVar[CustomFieldDefinition.Type]
        DECIMAL: _ClassVar[CustomFieldDefinition.Type]
        DATE: _ClassVar[CustomFieldDefinition.Type]
        BOOLEAN: _ClassVar[CustomFieldDefinition.Type]
        SINGLE_SELECT: _ClassVar[CustomFieldDefinition.Type]
        MULTI_SELECT: _ClassVar[CustomFieldDefinition.Type]
    TYPE_UNSPECIFIED: CustomFieldDefinition.Type
    TEXT: CustomFieldDefinition.Type
    NUMBER: CustomFieldDefinition.Type
    DECIMAL: CustomFieldDefinition.Type
    DATE: CustomFieldDefinition.Type
    BOOLEAN: CustomFieldDefinition.Type
    SINGLE_SELECT: CustomFieldDefinition.Type
    MULTI_SELECT: CustomFieldDefinition.Type
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    object_type: CustomFieldDefinition.ObjectType
    key: str
    label: str
    type: CustomFieldDefinition.Type
    options: _containers.RepeatedScalarFieldContainer[str]
    required: bool
    description: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., object_type: _Optional[_Union[CustomFieldDefinition.ObjectType, str]] = ..., key: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[_Union[CustomFieldDefinition.Type, str]] = ..., options: _Optional[_Iterable[str]] = ..., required: _Optional[bool] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CreateCustomFieldDefinitionRequest(_message.Message):
    __slots__ = ("custom_field_definition",)
    CUSTOM_FIELD_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    custom_field_definition: CustomFieldDefinition
    def __init__(self, custom_field_definition: _Optional[_Union[CustomFieldDefinition, _Mapping]] = ...) -> None: ...

class GetCustomFieldDefinitionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListCustomFieldDefinitionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "object_type")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OBJECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    object_type: CustomFieldDefinition.ObjectType
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., object_type: _Optional[_Union[CustomFieldDefinition.ObjectType, str]] = ...) -> None: ...

class ListCustomFieldDefinitionsResponse(_message.Message):
    __slots__ = ("custom_field_definitions", "next_page_token")
    CUSTOM_FIELD_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    custom_field_definitions: _containers.RepeatedCompositeFieldContainer[CustomFieldDefinition]
    next_page_token: str
    def __init__(self, custom_field_definitions: _Optional[_Iterable[_Union[CustomFieldDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCustomFieldDefinitionRequest(_message.Message):
    __slots__ = ("id", "custom_field_definition", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    custom_field_definition: CustomFieldDefinition
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., custom_field_definition: _Optional[_Union[CustomFieldDefinition, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteCustomFieldDefinitionRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...
