"""The Odoo connector (docs/adr/0058): customers both ways, and sales orders from won business.

- Inbound (`sync`, stream `res.partner`): partners changed since the cursor, oldest `write_date`
  first, a page at a time; companies become accounts, persons contacts (their `parent_id` the
  account). Each page's contacts/accounts writes, external ids and cursor are committed together;
  a record the CRM refuses is a dead letter and the stream goes on.
- Outbound (the `integrations.odoo` consumer): contact and account created/updated events become
  partner `create`/`write`; a quote accepted or a deal won becomes a `sale.order` with lines.
- Echoes: CRM records created by the sync carry the external id `odoo:<connection>:<partner>`
  (their create event is not sent back), and the external-id map keeps a hash per CRM field last
  synced: values equal to them are our own change coming back.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from crm.contacts.v1 import accounts_pb2, contacts_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.events.v1.envelope_pb2 import Envelope
from crm.sales.v1 import events_pb2 as sales_events
from google.protobuf import json_format, message
from google.type import money_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from services.integrations.connections import (
    ERASED_MAPPING,
    Connections,
    Credentials,
    DeadLetter,
    FieldMapping,
    SyncRun,
    add_dead_letter,
    claim_external_id,
    external_id_of,
    get_cursor,
    internal_id_of,
    put_cursor,
    remember_synced,
    synced_of,
    unchanged,
)
from services.integrations.connectors import Step, StreamSpec
from services.integrations.connectors import mapping as field_mapping
from services.integrations.connectors.crm import CrmDirectory, RecordRefused
from services.integrations.odoo.client import JSONRPC, OdooClient, OdooError
from services.integrations.store import INBOX

log = logging.getLogger(__name__)

PARTNERS = "res.partner"
OUT_PARTNERS = "res.partner:out"
OUT_ORDERS = "sale.order:out"
CONTACT, ACCOUNT, ORDER = "contact", "account", "sale.order"
PAGE = 100
PARTNER_FIELDS = ["name", "is_company", "parent_id", "email", "phone", "function", "website", "write_date"]
CONTACT_FIELDS = frozenset({"givenName", "familyName", "email", "phone", "title"})
ACCOUNT_FIELDS = frozenset({"name", "domain", "industry"})


def marker(connection_id: str, partner_id: int | str) -> str:
    """The external id the CRM record made from a partner carries (unique per tenant in contacts)."""
    return f"odoo:{connection_id}:{partner_id}"


def _text(value: Any) -> str:
    return "" if value is None or value is False else str(value)


def _domain(website: str) -> str:
    if not website:
        return ""
    host = urllib.parse.urlsplit(website if "//" in website else f"//{website}").hostname or ""
    return host.removeprefix("www.")


def _amount(money: money_pb2.Money) -> float:
    return round(money.units + money.nanos / 1e9, 6)


def _split(name: str) -> tuple[str, str]:
    given, _, family = name.strip().rpartition(" ")
    return (given.strip(), family) if given else (family, "")


def _snake(kind: type[message.Message], path: str) -> str:
    fields = {f.json_name: f.name for f in kind.DESCRIPTOR.fields}
    return fields.get(path, path)


class OdooConnector:
    type = "ODOO"
    streams: tuple[StreamSpec, ...] = (StreamSpec(PARTNERS, "write_date", CONTACT_FIELDS | ACCOUNT_FIELDS),)

    def __init__(self, database: Database, connections: Connections, client: OdooClient, crm: CrmDirectory) -> None:
        self.database = database
        self.connections = connections
        self.client = client
        self.crm = crm

    # --- check ---

    def check(self, credentials: Credentials) -> tuple[bool, list[Step]]:
        self.client.forget(credentials.connection.id)  # find out again which protocol the server speaks
        steps: list[Step] = []
        try:
            count = self.client.call(credentials, PARTNERS, "search_count", domain=[])
        except OdooError as exc:
            name = "authenticate" if self.client.protocol(credentials) == JSONRPC else "json2"
            steps.append(Step(name, False, str(exc)[:500]))
            return False, steps
        if self.client.protocol(credentials) == JSONRPC:
            steps.append(Step("json2", False, "no JSON-2 API here (HTTP 404): using the legacy JSON-RPC"))
            steps.append(Step("authenticate", True, "signed in with the API key"))
        else:
            steps.append(Step("json2", True, "bearer API key accepted"))
        steps.append(Step("read", True, f"{count} partners visible"))
        return True, steps

    # --- inbound ---

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        connection = credentials.connection
        counts: Counter[str] = Counter()
        with self.database.transaction() as session:
            cursor = {} if full_refresh else get_cursor(session, connection.id, PARTNERS)
        since, last_id = str(cursor.get("write_date", "")), int(cursor.get("id", 0))
        fields = sorted({*PARTNER_FIELDS, *field_mapping.external_fields(connection.data.mappings(PARTNERS))})
        first = True
        while True:
            # The first page re-reads the cursor's second (Odoo's write_date has no fraction: a partner
            # written later in that second must not be lost; the synced hashes skip what we have);
            # the following pages go strictly after the last record read.
            if first:
                domain: list[Any] = [["write_date", ">=", since]] if since else []
            else:
                domain = ["|", ["write_date", ">", since], "&", ["write_date", "=", since], ["id", ">", last_id]]
            records = self.client.call(
                credentials,
                PARTNERS,
                "search_read",
                domain=domain,
                fields=fields,
                order="write_date asc, id asc",
                limit=PAGE,
            )
            if not records:
                break
            with self.crm.acting_for(connection.tenant_id), self.database.transaction() as session:
                for record in records:
                    counts["fetched"] += 1
                    try:
                        with session.begin_nested():
                            counts[self._inbound(session, credentials, record)] += 1
                    except (RecordRefused, OdooError) as exc:
                        if isinstance(exc, OdooError) and not exc.record_level:
                            raise
                        counts["failed"] += 1
                        add_dead_letter(
                            session,
                            connection.tenant_id,
                            connection.id,
                            PARTNERS,
                            str(record["id"]),
                            json.dumps(record).encode(),
                            str(exc),
                        )
                since, last_id = str(records[-1]["write_date"]), int(records[-1]["id"])
                put_cursor(session, connection.tenant_id, connection.id, PARTNERS, {"write_date": since, "id": last_id})
            first = False
            if len(records) < PAGE:
                break
        return replace(
            run,
            fetched_count=counts["fetched"],
            created_count=counts["created"],
            updated_count=counts["updated"],
            skipped_count=counts["skipped"],
            failed_count=counts["failed"],
        )

    def _crm_values(self, session: Session, credentials: Credentials, record: dict[str, Any]) -> dict[str, Any]:
        connection = credentials.connection
        mappings = connection.data.mappings(PARTNERS)
        if record.get("is_company"):
            values: dict[str, Any] = {
                "name": _text(record.get("name")),
                "domain": _domain(_text(record.get("website"))),
            }
            allowed = ACCOUNT_FIELDS
        else:
            given, family = _split(_text(record.get("name")))
            values = {
                "givenName": given,
                "familyName": family,
                "email": _text(record.get("email")),
                "phone": _text(record.get("phone")),
                "title": _text(record.get("function")),
                "accountId": "",
            }
            allowed = CONTACT_FIELDS
            parent = record.get("parent_id")
            if parent:
                parent_id = parent[0] if isinstance(parent, list) else int(parent)
                account = internal_id_of(session, connection.id, ACCOUNT, str(parent_id))
                if account is None:  # its company has not been synced yet: now, first
                    [company] = self.client.call(credentials, PARTNERS, "read", ids=[parent_id], fields=PARTNER_FIELDS)
                    self._inbound(session, credentials, company)
                    account = internal_id_of(session, connection.id, ACCOUNT, str(parent_id))
                values["accountId"] = account or ""
        mapped = field_mapping.inbound(mappings, record, {})
        for name, value in mapped.items():
            if name == "customFields" or name in allowed:
                values[name] = value
        return values

    def _inbound(self, session: Session, credentials: Credentials, record: dict[str, Any]) -> str:
        connection = credentials.connection
        kind = ACCOUNT if record.get("is_company") else CONTACT
        partner = str(record["id"])
        internal = internal_id_of(session, connection.id, kind, partner)
        if internal == ERASED_MAPPING:
            return "skipped"  # the person was erased here: Odoo's copy is not imported again
        values = self._crm_values(session, credentials, record)
        read = _read_side(values)
        # Locked until the page commits: the event our update below causes waits for these hashes.
        if internal is not None and unchanged(synced_of(session, connection.id, kind, partner, lock=True), read):
            return "skipped"
        outcome = "updated"
        mappings = connection.data.mappings(PARTNERS)
        if kind == CONTACT:
            if internal is None:
                internal = self.crm.find_contact(external_id=marker(connection.id, partner), email=values["email"])
            if internal:
                stored = _contact_side(self._update_contact(internal, values), mappings)
            else:
                created = self.crm.create_contact(_contact(values, marker(connection.id, partner)))
                internal, stored, outcome = created.id, _contact_side(created, mappings), "created"
        else:
            if internal is None:
                internal = self.crm.find_account(marker(connection.id, partner))
            if internal:
                stored = _account_side(self._update_account(internal, values), mappings)
            else:
                made = self.crm.create_account(_account(values, marker(connection.id, partner)))
                internal, stored, outcome = made.id, _account_side(made, mappings), "created"
        claim_external_id(session, connection.tenant_id, connection.id, kind, partner, internal)
        # Both sides' hashes: Odoo's values as read, and the CRM's as it stored them (normalised):
        # the CRM event this update causes then compares equal and is not sent back.
        remember_synced(session, connection.id, kind, partner, {**read, **stored})
        return outcome

    def _update_contact(self, contact_id: str, values: dict[str, Any]) -> contacts_pb2.Contact:
        current = self.crm.contact(contact_id)
        update = _contact(values, "")
        paths = [_snake(contacts_pb2.Contact, k) for k in values if k in CONTACT_FIELDS]
        if values.get("accountId") and values["accountId"] not in current.account_ids:
            update.account_ids[:] = [*current.account_ids, values["accountId"]]
            paths.append("account_ids")
        if values.get("customFields"):
            merged = json_format.MessageToDict(current.custom_fields)
            merged.update(values["customFields"])
            update.custom_fields.Clear()
            update.custom_fields.update(merged)
            paths.append("custom_fields")
        return self.crm.update_contact(contact_id, update, paths)

    def _update_account(self, account_id: str, values: dict[str, Any]) -> accounts_pb2.Account:
        update = _account(values, "")
        paths = [_snake(accounts_pb2.Account, k) for k in values if k in ACCOUNT_FIELDS]
        if values.get("customFields"):
            merged = json_format.MessageToDict(self.crm.account(account_id).custom_fields)
            merged.update(values["customFields"])
            update.custom_fields.Clear()
            update.custom_fields.update(merged)
            paths.append("custom_fields")
        return self.crm.update_account(account_id, update, paths)

    # --- outbound: partners ---

    def push_contact(self, session: Session, credentials: Credentials, contact: contacts_pb2.Contact) -> str:
        """The contact as a partner (created or written); answers what happened."""
        mappings = credentials.connection.data.mappings(PARTNERS)
        side = _contact_side(contact, mappings)
        parent: int | bool = False
        if side["accountId"]:
            parent = int(self._partner_of_account(session, credentials, side["accountId"]))
        partner = {
            "name": f"{contact.given_name} {contact.family_name}".strip() or contact.email or contact.id,
            "is_company": False,
            "email": contact.email or False,
            "phone": contact.phone or False,
            "function": contact.title or False,
            "parent_id": parent,
        }
        field_mapping.outbound(mappings, json_format.MessageToDict(contact), partner)
        return self._push(session, credentials, CONTACT, contact.id, side, partner)

    def push_account(self, session: Session, credentials: Credentials, account: accounts_pb2.Account) -> str:
        mappings = credentials.connection.data.mappings(PARTNERS)
        partner = {"name": account.name, "is_company": True, "website": account.domain or False}
        field_mapping.outbound(mappings, json_format.MessageToDict(account), partner)
        return self._push(session, credentials, ACCOUNT, account.id, _account_side(account, mappings), partner)

    def _push(
        self,
        session: Session,
        credentials: Credentials,
        kind: str,
        internal: str,
        side: dict[str, Any],
        partner: dict[str, Any],
    ) -> str:
        connection = credentials.connection
        external = external_id_of(session, connection.id, kind, internal)
        if external is not None:
            if unchanged(synced_of(session, connection.id, kind, external, lock=True), side):
                return "skipped"  # Odoo has these values already (often: our own inbound update's event)
            self.client.call(credentials, PARTNERS, "write", ids=[int(external)], vals=partner)
            # What the next sync will read back is what we wrote: remember it too, so it is skipped.
            read = _read_side(self._crm_values(session, credentials, {"id": int(external), **partner}))
            remember_synced(session, connection.id, kind, external, {**side, **read})
            return "updated"
        [created] = self.client.call(credentials, PARTNERS, "create", vals_list=[partner])
        read = _read_side(self._crm_values(session, credentials, {"id": created, **partner}))
        # Committed at once, apart from the event's transaction: were that to roll back, the
        # redelivered event must find the partner, not create a second one.
        with self.database.transaction() as own:
            claim_external_id(own, connection.tenant_id, connection.id, kind, str(created), internal)
            remember_synced(own, connection.id, kind, str(created), {**side, **read})
        return "created"

    def _partner_of_account(self, session: Session, credentials: Credentials, account_id: str) -> str:
        connection = credentials.connection
        found = external_id_of(session, connection.id, ACCOUNT, account_id)
        if found is None:
            self.push_account(session, credentials, self.crm.account(account_id))
            with self.database.transaction() as own:
                found = external_id_of(own, connection.id, ACCOUNT, account_id)
        assert found is not None
        return found

    def _partner_of_contact(self, session: Session, credentials: Credentials, contact_id: str) -> str:
        connection = credentials.connection
        found = external_id_of(session, connection.id, CONTACT, contact_id)
        if found is None:
            self.push_contact(session, credentials, self.crm.contact(contact_id))
            with self.database.transaction() as own:
                found = external_id_of(own, connection.id, CONTACT, contact_id)
        assert found is not None
        return found

    # --- outbound: sales orders ---

    def place_order(
        self,
        session: Session,
        credentials: Credentials,
        key: str,
        origin: str,
        account_id: str,
        contact_id: str,
        lines: list[tuple[str, str, float, float]],
        replace_lines: bool,
    ) -> str:
        """One sale.order per deal (or per quote without a deal), found again by client_order_ref.
        `lines`: (sku, name, quantity, unit price). A quote's lines replace a won deal's single line
        while the order is still a quotation (`draft`)."""
        connection = credentials.connection
        reference = f"CRM {key}"
        external = external_id_of(session, connection.id, ORDER, key)
        if external is None:
            found = self.client.call(
                credentials, ORDER, "search_read", domain=[["client_order_ref", "=", reference]], fields=["state"]
            )
            external = str(found[0]["id"]) if found else None
        commands: list[Any] = [
            [
                0,
                0,
                {
                    "product_id": self._product(credentials, sku, name, price),
                    "name": name,
                    "product_uom_qty": qty,
                    "price_unit": price,
                },
            ]
            for sku, name, qty, price in lines
        ]
        if external is not None:
            if replace_lines:
                [order] = self.client.call(credentials, ORDER, "read", ids=[int(external)], fields=["state"])
                if order["state"] == "draft":
                    self.client.call(
                        credentials,
                        ORDER,
                        "write",
                        ids=[int(external)],
                        vals={"order_line": [[5, 0, 0], *commands], "origin": origin},
                    )
                    outcome = "updated"
                else:
                    outcome = "skipped"
            else:
                outcome = "skipped"
        else:
            if account_id:
                partner = self._partner_of_account(session, credentials, account_id)
            elif contact_id:
                partner = self._partner_of_contact(session, credentials, contact_id)
            else:
                raise OdooError("", f"{key} has neither an account nor a contact to bill", 422)
            vals = {"partner_id": int(partner), "client_order_ref": reference, "origin": origin, "order_line": commands}
            [created] = self.client.call(credentials, ORDER, "create", vals_list=[vals])
            external = str(created)
            outcome = "created"
        with self.database.transaction() as own:
            claim_external_id(own, connection.tenant_id, connection.id, ORDER, external, key)
        return outcome

    def _product(self, credentials: Credentials, sku: str, name: str, price: float) -> int:
        domain = [["default_code", "=", sku]] if sku else [["name", "=", name]]
        found = self.client.call(credentials, "product.product", "search", domain=domain, limit=1)
        if found:
            return int(found[0])
        vals = {"name": name or sku, "default_code": sku or False, "list_price": price}
        [created] = self.client.call(credentials, "product.product", "create", vals_list=[vals])
        return int(created)

    # --- events ---

    def on_event(self, session: Session, envelope: Envelope, event: message.Message) -> None:
        for credentials in self.connections.of_type_in(session, self.type, envelope.tenant):
            stream = (
                OUT_ORDERS
                if isinstance(event, (sales_events.QuoteAccepted, sales_events.OpportunityWon))
                else OUT_PARTNERS
            )
            try:
                with session.begin_nested(), self.crm.acting_for(envelope.tenant):
                    self._handle(session, credentials, event)
            except (OdooError, RecordRefused) as exc:
                connection = credentials.connection
                log.warning(
                    "connection %s: %s %s kept as a dead letter: %s",
                    connection.id,
                    envelope.type,
                    envelope.id,
                    type(exc).__name__,
                )
                add_dead_letter(
                    session,
                    envelope.tenant,
                    connection.id,
                    stream,
                    _subject_of(event),
                    envelope.SerializeToString(),
                    str(exc),
                )

    def _handle(self, session: Session, credentials: Credentials, event: message.Message) -> None:
        connection_id = credentials.connection.id
        if isinstance(event, contacts_events.ContactCreated | contacts_events.ContactUpdated):
            if isinstance(event, contacts_events.ContactCreated) and event.contact.external_id.startswith(
                marker(connection_id, "")
            ):
                return  # made by our own inbound sync
            self.push_contact(session, credentials, event.contact)
        elif isinstance(event, contacts_events.AccountCreated | contacts_events.AccountUpdated):
            if isinstance(event, contacts_events.AccountCreated) and event.account.external_id.startswith(
                marker(connection_id, "")
            ):
                return
            self.push_account(session, credentials, event.account)
        elif isinstance(event, sales_events.QuoteAccepted):
            lines = [(line.sku, line.name, float(line.quantity or 1), _amount(line.unit_price)) for line in event.lines]
            key = f"opportunity:{event.opportunity_id}" if event.opportunity_id else f"quote:{event.quote_id}"
            self.place_order(
                session,
                credentials,
                key,
                event.quote_number or event.quote_id,
                event.account_id,
                event.contact_id,
                lines,
                True,
            )
        elif isinstance(event, sales_events.OpportunityWon):
            deal = event.opportunity
            lines = [("", deal.name, 1.0, _amount(deal.amount))]
            self.place_order(
                session,
                credentials,
                f"opportunity:{deal.id}",
                deal.name,
                deal.account_id,
                deal.contact_id,
                lines,
                False,
            )

    # --- replay ---

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        with self.crm.acting_for(credentials.connection.tenant_id):
            if letter.stream == PARTNERS:
                # Read the partner again: the fix is usually made in Odoo.
                fields = sorted(
                    {*PARTNER_FIELDS, *field_mapping.external_fields(credentials.connection.data.mappings(PARTNERS))}
                )
                [record] = self.client.call(credentials, PARTNERS, "read", ids=[int(letter.external_id)], fields=fields)
                self._inbound(session, credentials, record)
            elif letter.stream in (OUT_PARTNERS, OUT_ORDERS):
                envelope = Envelope.FromString(letter.payload)
                event = EVENTS[envelope.type].FromString(envelope.data)
                if isinstance(event, contacts_events.ContactUpdated | contacts_events.ContactCreated):
                    event.contact.CopyFrom(self.crm.contact(event.contact.id))  # the contact as it is now
                elif isinstance(event, contacts_events.AccountUpdated | contacts_events.AccountCreated):
                    event.account.CopyFrom(self.crm.account(event.account.id))
                self._handle(session, credentials, event)
            else:
                raise OdooError("", f"stream {letter.stream} cannot be replayed", 422)


EVENTS: dict[str, type[message.Message]] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        contacts_events.ContactCreated,
        contacts_events.ContactUpdated,
        contacts_events.AccountCreated,
        contacts_events.AccountUpdated,
        sales_events.QuoteAccepted,
        sales_events.OpportunityWon,
    )
}


def _subject_of(event: message.Message) -> str:
    if isinstance(event, contacts_events.ContactCreated | contacts_events.ContactUpdated):
        return f"contact:{event.contact.id}"
    if isinstance(event, contacts_events.AccountCreated | contacts_events.AccountUpdated):
        return f"account:{event.account.id}"
    if isinstance(event, sales_events.QuoteAccepted):
        return f"quote:{event.quote_id}"
    if isinstance(event, sales_events.OpportunityWon):
        return f"opportunity:{event.opportunity.id}"
    return ""


def _contact_side(contact: contacts_pb2.Contact, mappings: tuple[FieldMapping, ...]) -> dict[str, Any]:
    """What the CRM holds of a contact, as synced: standard fields and the outbound mappings' ones."""
    values: dict[str, Any] = {
        "givenName": contact.given_name,
        "familyName": contact.family_name,
        "email": contact.email,
        "phone": contact.phone,
        "title": contact.title,
        "accountId": contact.account_ids[0] if contact.account_ids else "",
    }
    return _with_outbound(values, contact, mappings)


def _account_side(account: accounts_pb2.Account, mappings: tuple[FieldMapping, ...]) -> dict[str, Any]:
    return _with_outbound({"name": account.name, "domain": account.domain}, account, mappings)


def _with_outbound(
    values: dict[str, Any], record: message.Message, mappings: tuple[FieldMapping, ...]
) -> dict[str, Any]:
    """`values` plus the CRM fields the outbound mappings read, flattened for hashing."""
    crm = json_format.MessageToDict(record)
    for m in mappings:
        if m.outbound:
            field_mapping.set_crm(values, m.crm_field, field_mapping.get_crm(crm, m.crm_field))
    return _flatten(values)


def _read_side(values: dict[str, Any]) -> dict[str, Any]:
    """The CRM values made from what Odoo answered, under their own keys ("odoo:<field>"): they are
    compared with the next read, the CRM side with the next CRM event."""
    return {f"odoo:{k}": v for k, v in _flatten(values).items()}


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    """CRM values with custom fields as "customFields.<key>" entries (hashed one by one)."""
    flat = {k: v for k, v in values.items() if k != "customFields"}
    for key, value in (values.get("customFields") or {}).items():
        flat[f"customFields.{key}"] = value
    return flat


def _contact(values: dict[str, Any], external_id: str) -> contacts_pb2.Contact:
    contact = contacts_pb2.Contact(
        given_name=values.get("givenName", ""),
        family_name=values.get("familyName", ""),
        email=values.get("email", ""),
        phone=values.get("phone", ""),
        title=values.get("title", ""),
        external_id=external_id,
    )
    if values.get("accountId"):
        contact.account_ids.append(values["accountId"])
    if values.get("customFields"):
        contact.custom_fields.update(values["customFields"])
    return contact


def _account(values: dict[str, Any], external_id: str) -> accounts_pb2.Account:
    account = accounts_pb2.Account(
        name=values.get("name", ""),
        domain=values.get("domain", ""),
        industry=values.get("industry", ""),
        external_id=external_id,
    )
    if values.get("customFields"):
        account.custom_fields.update(values["customFields"])
    return account


def odoo_consumer(database: Database, connector: OdooConnector) -> EventConsumer:
    """Contacts' and sales' events pushed to every Odoo connection of the tenant."""
    handler: Callable[[Session, Envelope, Any], None] = connector.on_event
    return EventConsumer("integrations.odoo", database, INBOX, [Handles(kind, handler) for kind in EVENTS.values()])
