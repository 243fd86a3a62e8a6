from crm.contacts.v1 import accounts_pb2 as _accounts_pb2
from crm.contacts.v1 import activities_pb2 as _activities_pb2
from crm.contacts.v1 import contacts_pb2 as _contacts_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactCreated(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: _contacts_pb2.Contact
    def __init__(self, contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ...) -> None: ...

class ContactUpdated(_message.Message):
    __slots__ = ("contact", "changed_fields")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    contact: _contacts_pb2.Contact
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, contact: _Optional[_Union[_contacts_pb2.Contact, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ContactDeleted(_message.Message):
    __slots__ = ("contact_id",)
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    def __init__(self, contact_id: _Optional[str] = ...) -> None: ...

class AccountCreated(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ...) -> None: ...

class AccountUpdated(_message.Message):
    __slots__ = ("account", "changed_fields")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class AccountDeleted(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ContactsImported(_message.Message):
    __slots__ = ("import_job_id", "contacts")
    IMPORT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    import_job_id: str
    contacts: _containers.RepeatedCompositeFieldContainer[_contacts_pb2.Contact]
    def __init__(self, import_job_id: _Optional[str] = ..., contacts: _Optional[_Iterable[_Union[_contacts_pb2.Contact, _Mapping]]] = ...) -> None: ...

class ActivityCreated(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: _activities_pb2.Activity
    def __init__(self, activity: _Optional[_Union[_activities_pb2.Activity, _Mapping]] = ...) -> None: ...

class ActivityUpdated(_message.Message):
    __slots__ = ("activity", "changed_fields")
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    activity: _activities_pb2.Activity
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, activity: _Optional[_Union[_activities_pb2.Activity, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ActivityDeleted(_message.Message):
    __slots__ = ("activity_id",)
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    def __init__(self, activity_id: _Optional[str] = ...) -> None: ...
