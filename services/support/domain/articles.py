"""Knowledge-base articles: validation, drafts and publishing, etags, and search words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from crmkit.errors import (
    MULTI_LINE_CONTROL,
    SINGLE_LINE_CONTROL,
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from crmkit.etags import etag_of
from crmkit.updates import apply_mask
from services.support.domain.tickets import MAX_ID, MAX_TAG

MAX_TITLE = 300
MAX_BODY = 256 * 1024
MAX_TAGS = 50
MAX_NAME = 200
MAX_DESCRIPTION = 4096
MAX_QUERY = 1000
MAX_TERMS = 32
DRAFT, PUBLISHED = "DRAFT", "PUBLISHED"
STATUSES = (DRAFT, PUBLISHED)
# Words too common to tell articles apart. PostgreSQL's english configuration drops them anyway;
# dropping them here too makes SQLite (FTS5 has no stop words) find the same articles.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ArticleFields:
    """What a caller may write."""

    title: str = ""
    body: str = ""
    category_id: str = ""
    tags: tuple[str, ...] = ()
    author_id: str = ""


SYSTEM_FIELDS = frozenset({"id", "status", "create_time", "update_time", "publish_time", "etag"})


@dataclass(frozen=True)
class Article:
    id: str
    tenant_id: str
    data: ArticleFields
    status: str
    create_time: dt.datetime
    update_time: dt.datetime
    publish_time: dt.datetime | None
    etag: str

    @property
    def published(self) -> bool:
        return self.status == PUBLISHED


@dataclass(frozen=True)
class Category:
    id: str
    tenant_id: str
    name: str
    description: str
    create_time: dt.datetime


def normalise(data: ArticleFields) -> ArticleFields:
    check = Validator()
    title = data.title.strip()
    if not title:
        check.add("title", "is required")
    elif len(title) > MAX_TITLE or SINGLE_LINE_CONTROL.search(title):
        check.add("title", f"must be one line of at most {MAX_TITLE} characters")
    body = data.body.strip()
    if len(body) > MAX_BODY or MULTI_LINE_CONTROL.search(body):
        check.add("body", f"must be text of at most {MAX_BODY} characters")
    category_id = check.identifier("category_id", data.category_id, MAX_ID)
    author_id = data.author_id.strip()
    if len(author_id) > MAX_NAME or SINGLE_LINE_CONTROL.search(author_id):
        check.add("author_id", f"must be one line of at most {MAX_NAME} characters")
    tags = check.labels("tags", data.tags, limit=MAX_TAGS, max_length=MAX_TAG)
    check.raise_if_any()
    return ArticleFields(title, body, category_id, tags, author_id)


def compute_etag(article_id: str, data: ArticleFields, status: str, update_time: dt.datetime) -> str:
    return etag_of(article_id, data, update_time, status)


def new_article(article_id: str, tenant_id: str, data: ArticleFields, author: str, now: dt.datetime) -> Article:
    data = normalise(replace(data, author_id=data.author_id or author))
    return Article(article_id, tenant_id, data, DRAFT, now, now, None, compute_etag(article_id, data, DRAFT, now))


def check_etag(article: Article, expected: str) -> None:
    if expected and expected != article.etag:
        raise Aborted(f"article {article.id} was changed since etag {expected}; read it again and retry")


def apply_update(
    article: Article, patch: ArticleFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Article, list[str]]:
    """The article with the masked fields taken from `patch` (every populated field without a
    mask), and the names of the fields that changed. Status moves only by publish/unpublish."""
    merged, changed = apply_mask(article.data, patch, mask, normalise, SYSTEM_FIELDS)
    if not changed:
        return article, []
    return _touch(replace(article, data=merged), now), changed


def publish(article: Article, now: dt.datetime) -> Article:
    if article.published:
        raise FailedPrecondition(f"article {article.id} is already published")
    return _touch(replace(article, status=PUBLISHED, publish_time=now), now)


def unpublish(article: Article, now: dt.datetime) -> Article:
    if not article.published:
        raise FailedPrecondition(f"article {article.id} is not published")
    return _touch(replace(article, status=DRAFT), now)


def _touch(article: Article, now: dt.datetime) -> Article:
    return replace(article, update_time=now, etag=compute_etag(article.id, article.data, article.status, now))


def new_category(category_id: str, tenant_id: str, name: str, description: str, now: dt.datetime) -> Category:
    check = Validator()
    name = name.strip()
    if not name:
        check.add("name", "is required")
    elif len(name) > MAX_NAME or SINGLE_LINE_CONTROL.search(name):
        check.add("name", f"must be one line of at most {MAX_NAME} characters")
    description = description.strip()
    if len(description) > MAX_DESCRIPTION or MULTI_LINE_CONTROL.search(description):
        check.add("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    check.raise_if_any()
    return Category(category_id, tenant_id, name, description, now)


def search_terms(text: str, field: str = "q", *, required: bool = True) -> list[str]:
    """The words of a query, lower-cased, without stop words or operators: safe to put in a
    tsquery or an FTS5 MATCH expression (letters and digits only), at most MAX_TERMS."""
    if len(text) > MAX_QUERY and required:
        raise InvalidArgument.of([_violation(field, f"at most {MAX_QUERY} characters")])
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    terms = list(dict.fromkeys(words))[:MAX_TERMS]
    if required and not terms:
        raise InvalidArgument.of([_violation(field, "needs at least one word to search for")])
    return terms


def parse_filter(text: str) -> dict[str, str]:
    """`status = "PUBLISHED" AND categoryId = "c1"` -> {"status": ..., "category_id": ...}."""
    result: dict[str, str] = {}
    if not text.strip():
        return result
    for term in re.split(r"\s+AND\s+", text.strip()):
        match = re.fullmatch(r'\s*(status|categoryId)\s*=\s*(?:"([^"]*)"|([A-Za-z0-9_]+))\s*', term)
        if match is None:
            raise InvalidArgument.of(
                [
                    _violation(
                        "filter", f'cannot read {term.strip()!r}: use status or categoryId = "value", joined by AND'
                    )
                ]
            )
        name, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        if name == "status" and value not in STATUSES:
            raise InvalidArgument.of([_violation("filter", f"status must be one of {', '.join(STATUSES)}")])
        result["status" if name == "status" else "category_id"] = value
    return result


def _violation(field: str, description: str) -> FieldViolation:
    return FieldViolation(field, description)
