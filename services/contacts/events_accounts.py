"""Account events the contacts service publishes (routing key = full message name)."""

from __future__ import annotations

from collections.abc import Sequence

from crm.contacts.v1 import events_pb2
from google.protobuf import field_mask_pb2

from services.contacts.accounts import Account
from services.contacts.messages_accounts import account_to_proto


def account_created(account: Account) -> events_pb2.AccountCreated:
    return events_pb2.AccountCreated(account=account_to_proto(account))


def account_updated(account: Account, changed: Sequence[str]) -> events_pb2.AccountUpdated:
    return events_pb2.AccountUpdated(
        account=account_to_proto(account), changed_fields=field_mask_pb2.FieldMask(paths=list(changed))
    )


def account_deleted(account_id: str) -> events_pb2.AccountDeleted:
    return events_pb2.AccountDeleted(account_id=account_id)
