import pytest

from crmkit.errors import InvalidArgument
from crmkit.pagination import decode_cursor, encode_cursor, keyset_after, listing_scope, page_of, page_size


def test_page_size_defaults_to_50_and_is_capped_at_1000():
    assert page_size(0) == 50
    assert page_size(10) == 10
    assert page_size(5000) == 1000


def test_negative_page_size_is_refused():
    with pytest.raises(InvalidArgument) as caught:
        page_size(-1)
    assert caught.value.violations[0].field == "page_size"


def test_a_cursor_round_trips_and_is_opaque():
    token = encode_cursor("01ABC", "contacts")
    assert "01ABC" not in token
    assert decode_cursor(token, "contacts") == "01ABC"
    assert decode_cursor("", "contacts") is None


@pytest.mark.parametrize("token", ["garbage!", "e30", encode_cursor("01ABC", "audienceMembers")])
def test_damaged_or_foreign_tokens_are_refused(token):
    with pytest.raises(InvalidArgument) as caught:
        decode_cursor(token, "contacts")
    assert caught.value.violations[0].field == "page_token"


def test_a_page_has_a_next_token_only_when_more_rows_were_fetched():
    page, token = page_of(["a", "b", "c"], 2, str, "letters")
    assert page == ["a", "b"] and decode_cursor(token, "letters") == "b"
    assert page_of(["a", "b"], 2, str, "letters") == (["a", "b"], "")
    assert page_of([], 2, str, "letters") == ([], "")


def test_a_keyset_token_is_only_good_for_the_listing_that_issued_it():
    scope = listing_scope("contacts", 'email = "a@b.c"', "createTime desc", "")
    assert scope != listing_scope("contacts", 'email = "a@b.c"', "createTime", "")
    token = encode_cursor(["x", "id1"], scope)
    assert keyset_after(token, scope) == ["x", "id1"]
    assert keyset_after("", scope) is None
    with pytest.raises(InvalidArgument):
        keyset_after(token, listing_scope("accounts", 'email = "a@b.c"', "createTime desc", ""))
    with pytest.raises(InvalidArgument):
        keyset_after(encode_cursor("not-a-list", scope), scope)
