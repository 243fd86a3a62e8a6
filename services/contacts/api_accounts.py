"""AccountsService and CustomFieldsService over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, custom_fields_pb2, custom_fields_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.contacts.messages_accounts import (
    Definitions,
    account_fields_from_proto,
    account_to_proto,
    definition_fields_from_proto,
    definition_to_proto,
)
from services.contacts.usecases_accounts import Accounts, CustomFieldDefinitions


class AccountsServicer(accounts_pb2_grpc.AccountsServiceServicer):
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def CreateAccount(
        self, request: accounts_pb2.CreateAccountRequest, context: grpc.ServicerContext
    ) -> accounts_pb2.Account:
        return account_to_proto(self.accounts.create(current_principal(), account_fields_from_proto(request.account)))

    def GetAccount(
        self, request: accounts_pb2.GetAccountRequest, context: grpc.ServicerContext
    ) -> accounts_pb2.Account:
        return account_to_proto(self.accounts.get(current_principal(), request.id))

    def ListAccounts(
        self, request: accounts_pb2.ListAccountsRequest, context: grpc.ServicerContext
    ) -> accounts_pb2.ListAccountsResponse:
        found, token = self.accounts.list(
            current_principal(), request.page_size, request.page_token, request.filter, request.order_by, request.q
        )
        return accounts_pb2.ListAccountsResponse(accounts=[account_to_proto(a) for a in found], next_page_token=token)

    def UpdateAccount(
        self, request: accounts_pb2.UpdateAccountRequest, context: grpc.ServicerContext
    ) -> accounts_pb2.Account:
        account = self.accounts.update(
            current_principal(),
            request.id,
            account_fields_from_proto(request.account),
            list(request.update_mask.paths),
            request.account.etag,
        )
        return account_to_proto(account)

    def DeleteAccount(
        self, request: accounts_pb2.DeleteAccountRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.accounts.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()


class CustomFieldsServicer(custom_fields_pb2_grpc.CustomFieldsServiceServicer):
    def __init__(self, definitions: CustomFieldDefinitions) -> None:
        self.definitions = definitions

    def CreateCustomFieldDefinition(
        self, request: custom_fields_pb2.CreateCustomFieldDefinitionRequest, context: grpc.ServicerContext
    ) -> custom_fields_pb2.CustomFieldDefinition:
        data = definition_fields_from_proto(request.custom_field_definition)
        return definition_to_proto(self.definitions.create(current_principal(), data))

    def GetCustomFieldDefinition(
        self, request: custom_fields_pb2.GetCustomFieldDefinitionRequest, context: grpc.ServicerContext
    ) -> custom_fields_pb2.CustomFieldDefinition:
        return definition_to_proto(self.definitions.get(current_principal(), request.id))

    def ListCustomFieldDefinitions(
        self, request: custom_fields_pb2.ListCustomFieldDefinitionsRequest, context: grpc.ServicerContext
    ) -> custom_fields_pb2.ListCustomFieldDefinitionsResponse:
        object_type = Definitions.ObjectType.Name(request.object_type) if request.object_type else ""
        found, token = self.definitions.list(current_principal(), request.page_size, request.page_token, object_type)
        return custom_fields_pb2.ListCustomFieldDefinitionsResponse(
            custom_field_definitions=[definition_to_proto(d) for d in found], next_page_token=token
        )

    def UpdateCustomFieldDefinition(
        self, request: custom_fields_pb2.UpdateCustomFieldDefinitionRequest, context: grpc.ServicerContext
    ) -> custom_fields_pb2.CustomFieldDefinition:
        definition = self.definitions.update(
            current_principal(),
            request.id,
            definition_fields_from_proto(request.custom_field_definition),
            list(request.update_mask.paths),
            request.custom_field_definition.etag,
        )
        return definition_to_proto(definition)

    def DeleteCustomFieldDefinition(
        self, request: custom_fields_pb2.DeleteCustomFieldDefinitionRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.definitions.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()
