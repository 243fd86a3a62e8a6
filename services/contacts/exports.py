"""Contacts as CSV, produced page by page so that an export of any size needs little memory
(docs/adr/0039)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from crmkit.db import Database
from crmkit.tokens import Principal
from services.contacts import store
from services.contacts.domain import Contact

HEADER = [
    "id",
    "givenName",
    "familyName",
    "email",
    "phone",
    "title",
    "ownerId",
    "lifecycleStage",
    "tags",
    "accountIds",
    "externalId",
    "customFields",
    "createTime",
    "updateTime",
    "additionalEmails",
    "additionalPhones",
]
PAGE_ROWS = 1000
PIECE_BYTES = 64 * 1024


def csv_row(contact: Contact) -> list[str]:
    """One contact in the export's columns; lists joined by ';' (as the import reads them), custom
    fields as one JSON object."""
    data = contact.data
    return [
        contact.id,
        data.given_name,
        data.family_name,
        data.email,
        data.phone,
        data.title,
        data.owner_id,
        data.lifecycle_stage,
        ";".join(data.tags),
        ";".join(data.account_ids),
        data.external_id,
        json.dumps(dict(data.custom_fields), sort_keys=True, ensure_ascii=False) if data.custom_fields else "",
        contact.create_time.isoformat(),
        contact.update_time.isoformat(),
        ";".join(data.additional_emails),
        ";".join(data.additional_phones),
    ]


def export_csv(
    database: Database, principal: Principal, filter: str, order_by: str, page_rows: int = PAGE_ROWS
) -> Iterator[bytes]:
    """UTF-8 CSV in pieces of about PIECE_BYTES; each page of contacts is read in its own short
    transaction (keyset pagination), so no transaction stays open while the client reads."""
    listing = store.Listing(filter, order_by, principal.subject if principal.own_records_only else None)
    listing.orders()  # a bad order_by or filter fails before the first byte is sent
    listing.condition(database.dialect)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    after = None
    while True:
        with database.transaction() as session:
            found = store.page(session, principal.tenant_id, listing, after, page_rows)
        for contact, _ in found:
            writer.writerow(csv_row(contact))
            if buffer.tell() >= PIECE_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if len(found) < page_rows:
            break
        after = found[-1][1]
    if buffer.tell():
        yield buffer.getvalue().encode()
