import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Contact(_message.Message):
    __slots__ = ("id", "given_name", "family_name", "email", "phone", "title", "account_ids", "owner_id", "lifecycle_stage", "tags", "custom_fields", "create_time", "update_time", "etag", "account_associations", "external_id", "additional_emails", "additional_phones")
    class LifecycleStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LIFECYCLE_STAGE_UNSPECIFIED: _ClassVar[Contact.LifecycleStage]
        SUBSCRIBER: _ClassVar[Contact.LifecycleStage]
        LEAD: _ClassVar[Contact.LifecycleStage]
        MARKETING_QUALIFIED_LEAD: _ClassVar[Contact.LifecycleStage]
        SALES_QUALIFIED_LEAD: _ClassVar[Contact.LifecycleStage]
        OPPORTUNITY: _ClassVar[Contact.LifecycleStage]
        CUSTOMER: _ClassVar[Contact.LifecycleStage]
        EVANGELIST: _ClassVar[Contact.LifecycleStage]
        OTHER: _ClassVar[Contact.LifecycleStage]
    LIFECYCLE_STAGE_UNSPECIFIED: Contact.LifecycleStage
    SUBSCRIBER: Contact.LifecycleStage
    LEAD: Contact.LifecycleStage
    MARKETING_QUALIFIED_LEAD: Contact.LifecycleStage
    SALES_QUALIFIED_LEAD: Contact.LifecycleStage
    OPPORTUNITY: Contact.LifecycleStage
    CUSTOMER: Contact.LifecycleStage
    EVANGELIST: Contact.LifecycleStage
    OTHER: Contact.LifecycleStage
    ID_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_STAGE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_EMAILS_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_PHONES_FIELD_NUMBER: _ClassVar[int]
    id: str
    given_name: str
    family_name: str
    email: str
    phone: str
    title: str
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    owner_id: str
    lifecycle_stage: Contact.LifecycleStage
    tags: _containers.RepeatedScalarFieldContainer[str]
    custom_fields: _struct_pb2.Struct
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    account_associations: _containers.RepeatedCompositeFieldContainer[AccountAssociation]
    external_id: str
    additional_emails: _containers.RepeatedScalarFieldContainer[str]
    additional_phones: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., title: _Optional[str] = ..., account_ids: _Optional[_Iterable[str]] = ..., owner_id: _Optional[str] = ..., lifecycle_stage: _Optional[_Union[Contact.LifecycleStage, str]] = ..., tags: _Optional[_Iterable[str]] = ..., custom_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., account_associations: _Optional[_Iterable[_Union[AccountAssociation, _Mapping]]] = ..., external_id: _Optional[str] = ..., additional_emails: _Optional[_Iterable[str]] = ..., additional_phones: _Optional[_Iterable[str]] = ...) -> None: ...

class AccountAssociation(_message.Message):
    __slots__ = ("account_id", "label", "primary")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    label: str
    primary: bool
    def __init__(self, account_id: _Optional[str] = ..., label: _Optional[str] = ..., primary: _Optional[bool] = ...) -> None: ...

class CreateContactRequest(_message.Message):
    __slots__ = ("contact", "allow_duplicate_email")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DUPLICATE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    allow_duplicate_email: bool
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., allow_duplicate_email: _Optional[bool] = ...) -> None: ...

class GetContactRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListContactsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by", "q")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    order_by: str
    q: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., q: _Optional[str] = ...) -> None: ...

class ListContactsResponse(_message.Message):
    __slots__ = ("contacts", "next_page_token")
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    next_page_token: str
    def __init__(self, contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateContactRequest(_message.Message):
    __slots__ = ("id", "contact", "update_mask", "allow_duplicate_email")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DUPLICATE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    contact: Contact
    update_mask: _field_mask_pb2.FieldMask
    allow_duplicate_email: bool
    def __init__(self, id: _Optional[str] = ..., contact: _Optional[_Union[Contact, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., allow_duplicate_email: _Optional[bool] = ...) -> None: ...

class DeleteContactRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...
