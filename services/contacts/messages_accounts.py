"""Account and custom-field definition protobuf <-> domain, for the servicers and the events."""

from __future__ import annotations

from crm.contacts.v1 import accounts_pb2, custom_fields_pb2
from google.protobuf import json_format, struct_pb2

from services.contacts.accounts import Account, AccountFields, Address
from services.contacts.custom_fields import Definition, DefinitionFields

Definitions = custom_fields_pb2.CustomFieldDefinition


def account_fields_from_proto(message: accounts_pb2.Account) -> AccountFields:
    address = message.address
    return AccountFields(
        name=message.name,
        domain=message.domain,
        industry=message.industry,
        employee_count=message.employee_count,
        address=Address(
            tuple(address.address_lines),
            address.locality,
            address.administrative_area,
            address.postal_code,
            address.region_code,
        ),
        owner_id=message.owner_id,
        custom_fields=json_format.MessageToDict(message.custom_fields),
        external_id=message.external_id,
    )


def account_to_proto(account: Account) -> accounts_pb2.Account:
    data = account.data
    message = accounts_pb2.Account(
        id=account.id,
        name=data.name,
        domain=data.domain,
        industry=data.industry,
        employee_count=data.employee_count,
        owner_id=data.owner_id,
        external_id=data.external_id,
        etag=account.etag,
    )
    if data.address:
        message.address.CopyFrom(
            accounts_pb2.PostalAddress(
                address_lines=data.address.address_lines,
                locality=data.address.locality,
                administrative_area=data.address.administrative_area,
                postal_code=data.address.postal_code,
                region_code=data.address.region_code,
            )
        )
    custom = struct_pb2.Struct()
    custom.update(dict(data.custom_fields))
    message.custom_fields.CopyFrom(custom)
    message.create_time.FromDatetime(account.create_time)
    message.update_time.FromDatetime(account.update_time)
    return message


def definition_fields_from_proto(message: custom_fields_pb2.CustomFieldDefinition) -> DefinitionFields:
    return DefinitionFields(
        object_type=Definitions.ObjectType.Name(message.object_type) if message.object_type else "",
        key=message.key,
        label=message.label,
        type=Definitions.Type.Name(message.type) if message.type else "",
        options=tuple(message.options),
        required=message.required,
        description=message.description,
    )


def definition_to_proto(definition: Definition) -> custom_fields_pb2.CustomFieldDefinition:
    data = definition.data
    message = custom_fields_pb2.CustomFieldDefinition(
        id=definition.id,
        object_type=Definitions.ObjectType.Value(data.object_type),
        key=data.key,
        label=data.label,
        type=Definitions.Type.Value(data.type),
        options=data.options,
        required=data.required,
        description=data.description,
        etag=definition.etag,
    )
    message.create_time.FromDatetime(definition.create_time)
    message.update_time.FromDatetime(definition.update_time)
    return message
