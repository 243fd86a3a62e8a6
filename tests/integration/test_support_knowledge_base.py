"""The knowledge base on PostgreSQL (tsvector + GIN, ts_rank) and SQLite (FTS5, bm25): ranking,
drafts, publishing, suggestions for tickets, tenancy and validation."""

from __future__ import annotations

import grpc
import pytest
from crm.support.v1 import articles_pb2, articles_pb2_grpc

from crmkit.db import Database
from crmkit.errors import InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.support.domain.articles import ArticleFields
from services.support.domain.tickets import TicketFields
from services.support.module import MIGRATIONS
from services.support.store import OUTBOX
from services.support.usecases import Articles, Tickets
from tests.integration.support_helpers import AGENT_A, AGENT_B, READER_A, as_, code_of, run_support, violations

WRITER = Principal("T1", "agent:1", frozenset({"support:read", "support:write"}))
PARTNER = Principal("T1", "apikey:partner", frozenset({"support:read"}))
OTHER = Principal("T2", "agent:9", frozenset({"support:read", "support:write"}))


@pytest.fixture(params=["postgresql", "sqlite"])
def kb(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("support")
    else:
        url = f"sqlite:///{tmp_path / 'support.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    yield Articles(database), Tickets(database, Outbox("support", OUTBOX))
    database.dispose()


def published(articles: Articles, title: str, body: str, principal: Principal = WRITER) -> str:
    article = articles.create(principal, ArticleFields(title=title, body=body))
    return articles.publish(principal, article.id, article.etag).id


def titles(found) -> list[str]:
    return [article.data.title for article, _ in found]


def test_ranking_puts_the_better_match_first(kb):
    articles, _ = kb
    published(articles, "Printer settings", "The printer may need a new password after an update.")
    published(articles, "Reset your password", "To reset a forgotten password, open the password page.")
    published(articles, "Billing", "Invoices are sent monthly.")
    found = articles.search(PARTNER, "password", "", 10)
    assert titles(found) == ["Reset your password", "Printer settings"]
    assert found[0][1] > found[1][1] > 0
    # Every word must match; stemming finds "resetting" for "reset"; operators are plain words.
    assert titles(articles.search(PARTNER, "resetting passwords", "", 10)) == ["Reset your password"]
    assert titles(articles.search(PARTNER, 'password & "billing" | OR', "", 10)) == []


def test_drafts_are_not_found_and_publishing_makes_them_findable(kb):
    articles, _ = kb
    draft = articles.create(WRITER, ArticleFields(title="VPN setup", body="Install the VPN client."))
    assert draft.status == "DRAFT" and draft.data.author_id == "agent:1"
    assert articles.search(WRITER, "vpn", "", 10) == []
    with pytest.raises(NotFound):
        articles.get(PARTNER, draft.id)
    assert articles.list(PARTNER, 10, "", "")[0] == []
    live = articles.publish(WRITER, draft.id, draft.etag)
    assert live.publish_time is not None and live.etag != draft.etag
    assert titles(articles.search(PARTNER, "vpn", "", 10)) == ["VPN setup"]
    assert articles.get(PARTNER, draft.id).status == "PUBLISHED"
    edited = articles.update(WRITER, draft.id, ArticleFields(title="WireGuard setup"), ["title"], "")
    assert titles(articles.search(PARTNER, "wireguard", "", 10)) == ["WireGuard setup"], "the index follows edits"
    assert articles.search(PARTNER, "vpn", "", 10) != [], "the body still says VPN"
    articles.unpublish(WRITER, draft.id, edited.etag)
    assert articles.search(PARTNER, "wireguard", "", 10) == []
    articles.delete(WRITER, draft.id, "")
    with pytest.raises(NotFound):
        articles.get(WRITER, draft.id)


def test_suggestions_for_a_ticket_search_its_subject_and_description(kb):
    articles, tickets = kb
    published(articles, "Reset your password", "Forgot your password? Reset it from the login page.")
    published(articles, "Login problems", "If the login page does not load, clear your cache.")
    published(articles, "Billing", "Invoices are sent monthly.")
    ticket = tickets.create(
        WRITER,
        TicketFields(subject="Cannot reset my password", description="The login page rejects me", requester_id="C1"),
    ).ticket
    assert titles(articles.suggest(WRITER, ticket.id, 5)) == ["Reset your password", "Login problems"]
    with pytest.raises(NotFound):
        articles.suggest(OTHER, ticket.id, 5)


def test_other_tenants_articles_are_not_found_or_searched(kb):
    articles, _ = kb
    mine = published(articles, "Reset your password", "password")
    published(articles, "Their password guide", "password", principal=OTHER)
    assert titles(articles.search(WRITER, "password", "", 10)) == ["Reset your password"]
    with pytest.raises(NotFound):
        articles.get(OTHER, mine)
    with pytest.raises(NotFound):
        articles.publish(OTHER, mine, "")


def test_categories_filter_search_and_are_checked(kb):
    articles, _ = kb
    billing = articles.create_category(WRITER, "Billing", "Invoices and payments")
    in_billing = articles.create(WRITER, ArticleFields(title="Refund policy", body="refund", category_id=billing.id))
    articles.publish(WRITER, in_billing.id, "")
    published(articles, "Shipping refund", "refund")
    assert titles(articles.search(PARTNER, "refund", billing.id, 10)) == ["Refund policy"]
    assert [a.id for a in articles.list(WRITER, 10, "", f'categoryId = "{billing.id}"')[0]] == [in_billing.id]
    with pytest.raises(InvalidArgument) as bad:
        articles.create(WRITER, ArticleFields(title="", category_id="nope", tags=("",)))
    assert {v.field for v in bad.value.violations} == {"title", "tags"}
    with pytest.raises(InvalidArgument) as unknown:
        articles.create(WRITER, ArticleFields(title="x", category_id="nope"))
    assert [v.field for v in unknown.value.violations] == ["category_id"]
    with pytest.raises(InvalidArgument) as empty:
        articles.search(PARTNER, "the of !!", "", 10)
    assert [v.field for v in empty.value.violations] == ["q"]
    with pytest.raises(NotFound):
        articles.get_category(OTHER, billing.id)


@pytest.fixture
def grpc_kb(migrated):
    running, stop = run_support(migrated("support"))
    yield running.stub(articles_pb2_grpc.ArticlesServiceStub)
    stop()


def test_articles_over_grpc_check_scopes_fields_and_etags(grpc_kb):
    stub = grpc_kb
    A = articles_pb2.Article
    create = lambda p, **f: stub.CreateArticle(articles_pb2.CreateArticleRequest(article=A(**f)), metadata=as_(p))  # noqa: E731
    assert violations(lambda: create(AGENT_A, title="")) == {"title"}
    assert code_of(lambda: create(READER_A, title="x")) == grpc.StatusCode.PERMISSION_DENIED
    article = create(AGENT_A, title="Reset your password", body="password")
    assert article.status == A.DRAFT
    publish = articles_pb2.PublishArticleRequest(id=article.id, etag="stale")
    assert code_of(lambda: stub.PublishArticle(publish, metadata=as_(AGENT_A))) == grpc.StatusCode.ABORTED
    live = stub.PublishArticle(articles_pb2.PublishArticleRequest(id=article.id), metadata=as_(AGENT_A))
    assert live.status == A.PUBLISHED
    again = articles_pb2.PublishArticleRequest(id=article.id)
    assert code_of(lambda: stub.PublishArticle(again, metadata=as_(AGENT_A))) == grpc.StatusCode.FAILED_PRECONDITION
    found = stub.SearchArticles(articles_pb2.SearchArticlesRequest(q="password"), metadata=as_(READER_A))
    assert [r.article.id for r in found.results] == [article.id]
    other = articles_pb2.GetArticleRequest(id=article.id)
    assert code_of(lambda: stub.GetArticle(other, metadata=as_(AGENT_B))) == grpc.StatusCode.NOT_FOUND
    assert violations(lambda: stub.SearchArticles(articles_pb2.SearchArticlesRequest(q=""), metadata=as_(AGENT_A))) == {
        "q"
    }
