"""Price book and quotes: use cases (one transaction each) and their servicers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

import grpc
from crm.sales.v1 import quotes_pb2, quotes_pb2_grpc
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, Validator
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal, current_principal
from services.sales import deal_store as store
from services.sales.deal_messages import (
    lines_from_proto,
    product_fields_from_proto,
    product_to_proto,
    quote_accepted,
    quote_to_proto,
)
from services.sales.domain import quotes as rules
from services.sales.domain.money import is_iso_currency
from services.sales.domain.quotes import DRAFT, LineInput, Product, ProductFields, Quote


class Products:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, data: ProductFields) -> Product:
        product = rules.new_product(new_id(), principal.tenant_id, data, self.clock())
        with self.database.transaction() as session:
            self._unique_sku(session, product)
            store.add_product(session, product)
        return product

    def get(self, principal: Principal, product_id: str) -> Product:
        with self.database.transaction() as session:
            product = store.get_product(session, principal.tenant_id, product_id)
        if product is None:
            raise NotFound.resource("product", product_id)
        return product

    def list(self, principal: Principal, requested: int, token: str) -> tuple[list[Product], str]:
        size = page_size(requested)
        after = decode_cursor(token, "products")
        with self.database.transaction() as session:
            found = store.page_products(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda p: p.id, "products")

    def update(
        self, principal: Principal, product_id: str, patch: ProductFields, mask: Sequence[str], etag: str
    ) -> Product:
        with self.database.transaction() as session:
            current = store.get_product(session, principal.tenant_id, product_id, for_update=True)
            if current is None:
                raise NotFound.resource("product", product_id)
            rules.check_etag(current, etag)
            updated, changed = rules.update_product(current, patch, mask, self.clock())
            if "sku" in changed:
                self._unique_sku(session, updated)
            if changed:
                store.save_product(session, updated)
        return updated

    def _unique_sku(self, session: Session, product: Product) -> None:
        existing = store.product_with_sku(session, product.tenant_id, product.data.sku)
        if existing is not None and existing != product.id:
            raise AlreadyExists(
                f"product {existing} already has SKU {product.data.sku}",
                [FieldViolation("sku", f"already used by product {existing}")],
            )


class Quotes:
    def __init__(self, database: Database, outbox: Outbox, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, opportunity_id: str, currency: str, lines: list[LineInput]) -> Quote:
        now = self.clock()
        with self.database.transaction() as session:
            opportunity = store.get_opportunity(session, principal.tenant_id, opportunity_id)
            if opportunity is None or (principal.own_records_only and opportunity.data.owner_id != principal.subject):
                raise InvalidArgument.of([FieldViolation("opportunityId", f"no opportunity {opportunity_id}")])
            currency = currency or (opportunity.data.amount.currency if opportunity.data.amount else "")
            if not currency:
                raise InvalidArgument.of(
                    [FieldViolation("currencyCode", "is required when the opportunity has no amount")]
                )
            priced = self._lines(session, principal, currency, lines)
            sequence = store.next_quote_sequence(session, principal.tenant_id)
            quote_id = new_id()
            quote = Quote(
                quote_id,
                principal.tenant_id,
                rules.quote_number(sequence),
                opportunity_id,
                currency,
                priced,
                rules.totals_of(currency, priced),
                DRAFT,
                opportunity.data.contact_id,
                opportunity.data.account_id,
                opportunity.data.owner_id,
                now,
                now,
                rules.quote_etag(quote_id, priced, DRAFT, now, currency),
            )
            store.add_quote(session, quote, sequence)
        return quote

    def get(self, principal: Principal, quote_id: str) -> Quote:
        with self.database.transaction() as session:
            quote = self._visible(principal, store.get_quote(session, principal.tenant_id, quote_id))
        if quote is None:
            raise NotFound.resource("quote", quote_id)
        return quote

    def list(self, principal: Principal, requested: int, token: str, opportunity_id: str) -> tuple[list[Quote], str]:
        size = page_size(requested)
        scope = f"quotes:{opportunity_id}"
        after = decode_cursor(token, scope)
        owner = principal.subject if principal.own_records_only else None
        with self.database.transaction() as session:
            found = store.page_quotes(session, principal.tenant_id, opportunity_id, owner, after, size + 1)
        return page_of(found, size, lambda q: q.id, scope)

    def update(
        self,
        principal: Principal,
        quote_id: str,
        currency: str,
        lines: list[LineInput],
        mask: Sequence[str],
        etag: str,
    ) -> Quote:
        paths = list(mask) or [p for p, given in (("currency_code", currency), ("lines", lines)) if given]
        check = Validator()
        for path in paths:
            if path not in ("currency_code", "lines", "etag"):
                check.add("update_mask", f"unknown or read-only field {path!r}")
        check.raise_if_any()
        now = self.clock()
        with self.database.transaction() as session:
            current = self._locked(session, principal, quote_id, etag)
            rules.check_editable(current)
            new_currency = currency if "currency_code" in paths else current.currency
            if "lines" in paths:
                priced = self._lines(session, principal, new_currency, lines)
            else:
                given = [
                    LineInput(
                        line.product_id,
                        line.sku,
                        line.name,
                        str(line.quantity),
                        line.unit_price,
                        str(line.discount_percent),
                        str(line.tax_rate_percent),
                    )
                    for line in current.lines
                ]
                priced = self._lines(session, principal, new_currency, given)
            updated = replace(
                current,
                currency=new_currency,
                lines=priced,
                totals=rules.totals_of(new_currency, priced),
                update_time=now,
                etag=rules.quote_etag(current.id, priced, current.status, now, new_currency),
            )
            store.save_quote(session, updated)
        return updated

    def transition(self, principal: Principal, quote_id: str, action: str, etag: str) -> Quote:
        now = self.clock()
        with self.database.transaction() as session:
            current = self._locked(session, principal, quote_id, etag)
            moved = rules.transition(current, action, now)
            store.save_quote(session, moved)
            if action == "accept":
                self.outbox.add(session, quote_accepted(moved), tenant_id=moved.tenant_id, subject=moved.id)
        return moved

    def _lines(self, session: Session, principal: Principal, currency: str, lines: list[LineInput]):  # type: ignore[no-untyped-def]
        if not is_iso_currency(currency):
            raise InvalidArgument.of([FieldViolation("currencyCode", f"{currency!r} is not an ISO 4217 currency code")])
        products = store.products_by_id(
            session, principal.tenant_id, {line.product_id for line in lines if line.product_id}
        )
        return rules.build_lines(currency, lines, products)

    def _visible(self, principal: Principal, quote: Quote | None) -> Quote | None:
        if quote is not None and principal.own_records_only and quote.owner_id != principal.subject:
            return None
        return quote

    def _locked(self, session: Session, principal: Principal, quote_id: str, etag: str) -> Quote:
        current = self._visible(principal, store.get_quote(session, principal.tenant_id, quote_id, for_update=True))
        if current is None:
            raise NotFound.resource("quote", quote_id)
        rules.check_etag(current, etag)
        return current


class ProductsServicer(quotes_pb2_grpc.ProductsServiceServicer):
    def __init__(self, products: Products) -> None:
        self.products = products

    def CreateProduct(
        self, request: quotes_pb2.CreateProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.Product:
        data = product_fields_from_proto(request.product, creating=True)
        return product_to_proto(self.products.create(current_principal(), data))

    def GetProduct(self, request: quotes_pb2.GetProductRequest, context: grpc.ServicerContext) -> quotes_pb2.Product:
        return product_to_proto(self.products.get(current_principal(), request.id))

    def ListProducts(
        self, request: quotes_pb2.ListProductsRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ListProductsResponse:
        found, token = self.products.list(current_principal(), request.page_size, request.page_token)
        return quotes_pb2.ListProductsResponse(products=[product_to_proto(p) for p in found], next_page_token=token)

    def UpdateProduct(
        self, request: quotes_pb2.UpdateProductRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.Product:
        updated = self.products.update(
            current_principal(),
            request.id,
            product_fields_from_proto(request.product, creating=False),
            list(request.update_mask.paths),
            request.product.etag,
        )
        return product_to_proto(updated)


class QuotesServicer(quotes_pb2_grpc.QuotesServiceServicer):
    def __init__(self, quotes: Quotes) -> None:
        self.quotes = quotes

    def CreateQuote(self, request: quotes_pb2.CreateQuoteRequest, context: grpc.ServicerContext) -> quotes_pb2.Quote:
        given = request.quote
        created = self.quotes.create(
            current_principal(), given.opportunity_id, given.currency_code, lines_from_proto(list(given.lines))
        )
        return quote_to_proto(created)

    def GetQuote(self, request: quotes_pb2.GetQuoteRequest, context: grpc.ServicerContext) -> quotes_pb2.Quote:
        return quote_to_proto(self.quotes.get(current_principal(), request.id))

    def ListQuotes(
        self, request: quotes_pb2.ListQuotesRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.ListQuotesResponse:
        found, token = self.quotes.list(
            current_principal(), request.page_size, request.page_token, request.opportunity_id
        )
        return quotes_pb2.ListQuotesResponse(quotes=[quote_to_proto(q) for q in found], next_page_token=token)

    def UpdateQuote(self, request: quotes_pb2.UpdateQuoteRequest, context: grpc.ServicerContext) -> quotes_pb2.Quote:
        given = request.quote
        updated = self.quotes.update(
            current_principal(),
            request.id,
            given.currency_code,
            lines_from_proto(list(given.lines)),
            list(request.update_mask.paths),
            given.etag,
        )
        return quote_to_proto(updated)

    def SendQuote(self, request: quotes_pb2.QuoteTransitionRequest, context: grpc.ServicerContext) -> quotes_pb2.Quote:
        return quote_to_proto(self.quotes.transition(current_principal(), request.id, "send", request.etag))

    def AcceptQuote(
        self, request: quotes_pb2.QuoteTransitionRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.Quote:
        return quote_to_proto(self.quotes.transition(current_principal(), request.id, "accept", request.etag))

    def RejectQuote(
        self, request: quotes_pb2.QuoteTransitionRequest, context: grpc.ServicerContext
    ) -> quotes_pb2.Quote:
        return quote_to_proto(self.quotes.transition(current_principal(), request.id, "reject", request.etag))
