"""Knowledge-base rules: search words are plain words, drafts and publishing, filters."""

import datetime as dt

import pytest

from crmkit.errors import FailedPrecondition, InvalidArgument
from services.support.domain.articles import ArticleFields, new_article, parse_filter, publish, search_terms, unpublish

NOW = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def test_search_terms_keep_words_only_without_stop_words_or_operators():
    assert search_terms('How do I reset my "password" & | !x:*') == ["reset", "password", "x"]
    assert search_terms("Ünïcode Wörds ünïcode") == ["ünïcode", "wörds"]
    assert len(search_terms(" ".join(f"w{i}" for i in range(50)))) == 32
    assert search_terms("the of", required=False) == []
    with pytest.raises(InvalidArgument):
        search_terms("the of")


def test_publishing_moves_between_draft_and_published_and_changes_the_etag():
    draft = new_article("A1", "T1", ArticleFields(title=" Title "), "agent:1", NOW)
    assert (draft.status, draft.data.title, draft.data.author_id) == ("DRAFT", "Title", "agent:1")
    live = publish(draft, NOW)
    assert live.status == "PUBLISHED" and live.publish_time == NOW and live.etag != draft.etag
    with pytest.raises(FailedPrecondition):
        publish(live, NOW)
    assert unpublish(live, NOW).status == "DRAFT"


def test_filters_are_status_and_category_equalities():
    assert parse_filter('status = "PUBLISHED" AND categoryId = "c1"') == {"status": "PUBLISHED", "category_id": "c1"}
    with pytest.raises(InvalidArgument):
        parse_filter("status = LIVE")
    with pytest.raises(InvalidArgument):
        parse_filter("title = x")
