"""Duplicate scores, their explanations, blocking keys and the survivorship rules of a merge."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.contacts import dedup, survivorship
from services.contacts.dedup import Profile
from services.contacts.domain import ContactFields, new_contact

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def how(scored: dedup.Scored) -> dict[str, str]:
    return {m.field: m.how for m in scored.matches}


def test_a_typo_in_the_name_with_the_same_email_is_a_duplicate_and_says_why():
    scored = dedup.score(
        Profile("A", "Katherine", "Johnson", "k.johnson@acme.io"),
        Profile("B", "Katharine", "Johnson", "K.Johnson@ACME.io"),
    )
    assert scored.score >= dedup.DEFAULT_THRESHOLD
    assert how(scored) == {"email": "exact", "name": "similar"}
    assert 0.9 < {m.field: m.similarity for m in scored.matches}["name"] < 1


def test_swapped_given_and_family_names_with_a_reformatted_phone_match():
    scored = dedup.score(
        Profile("A", "Ada", "Lovelace", phone="+442071234567"),
        Profile("B", "Lovelace", "Ada", phone="+44 207 123-4567"),
    )
    assert how(scored) == {"phone": "equivalent", "name": "swapped"}
    assert scored.score >= dedup.DEFAULT_THRESHOLD


def test_gmail_dots_and_plus_tags_are_the_same_mailbox_elsewhere_they_are_not():
    assert dedup.email_key("Ada.Love+crm@gmail.com") == dedup.email_key("adalove@googlemail.com") == "adalove@gmail.com"
    assert dedup.email_key("ada.love@acme.io") != dedup.email_key("adalove@acme.io")
    scored = dedup.score(
        Profile("A", "Ada", "Love", "ada.love+x@gmail.com"), Profile("B", "Ada", "Love", "adalove@gmail.com")
    )
    assert how(scored)["email"] == "equivalent"


def test_strangers_sharing_a_family_name_and_a_role_mailbox_are_not_duplicates():
    a = Profile("A", "Marisa", "Dobes", "mdobes@gmail.com", "+14155550100")
    b = Profile("B", "Marco", "Dobes", "mdobes@gmail.com", "+14155550199")
    scored = dedup.score(a, b)
    assert scored.score < dedup.DEFAULT_THRESHOLD
    assert how(scored)["phone"] == "different"


def test_a_name_alone_is_a_hint_below_the_default_threshold_a_name_with_an_email_a_duplicate():
    named = dedup.score(Profile("A", "Ada", "Lovelace"), Profile("B", "Ada", "Lovelace"))
    emailed = dedup.score(Profile("A", "Ada", "Lovelace", "ada@x.io"), Profile("B", "Ada", "Lovelace", "ada@x.io"))
    half = dedup.score(Profile("A", "", "Lovelace"), Profile("B", "", "Lovelace", "ada@x.io"))
    assert half.score < named.score < dedup.DEFAULT_THRESHOLD < emailed.score == 1.0
    assert how(named) == {"name": "exact"}


def test_the_same_mailbox_name_elsewhere_counts_only_when_it_says_more_than_the_name():
    spelt = dedup.score(
        Profile("A", "Janet", "Powell", "janetpowell@yahoo.com"),
        Profile("B", "Janet", "Powell", "janet.powell@acme.io"),
    )
    numbered = dedup.score(
        Profile("A", "Janet", "Powell", "jpowell58@yahoo.com"), Profile("B", "Janet", "Powell", "jpowell58@acme.io")
    )
    assert {m.field: (m.how, m.similarity) for m in spelt.matches}["email"] == ("similar", dedup.NAME_SPELT_MAILBOX)
    assert spelt.score < dedup.DEFAULT_THRESHOLD <= numbered.score
    # Mailboxes that differ only as their owners' names do are not a typo of one address.
    mirrored = dedup.score(
        Profile("A", "Ursula", "Rossi", "ursularossi@acme.io"), Profile("B", "Ursula", "Ross", "ursulaross@acme.io")
    )
    assert mirrored.score < dedup.DEFAULT_THRESHOLD


def test_short_name_parts_with_a_typo_still_look_alike_next_to_one_mailbox():
    scored = dedup.score(
        Profile("A", "Mosquera", "Ry", "ruy.mosquera20@acme.io"),
        Profile("B", "Ruy", "Mosquera", "ruy.mosquera20@acme.io"),
    )
    assert how(scored) == {"email": "exact", "name": "swapped"}
    assert scored.score >= dedup.DEFAULT_THRESHOLD
    partial = dedup.score(
        Profile("A", "Lr Goff", "", "plegoff@acme.io"), Profile("B", "Paige", "Le Goff", "plegoff@acme.io")
    )
    assert partial.score >= dedup.DEFAULT_THRESHOLD


def test_numbered_mailboxes_of_two_people_do_not_count_as_one():
    scored = dedup.score(
        Profile("A", "Marcio", "Craig", "mcraig52@outlook.com"), Profile("B", "Marco", "Craig", "mcraig7@outlook.com")
    )
    assert how(scored)["email"] == "different"


def test_blocking_files_swapped_names_and_phone_formats_under_shared_keys():
    a = dedup.blocking_keys(Profile("A", "Ada", "Lovelace", "ada@acme.io", "+442071234567"))
    b = dedup.blocking_keys(Profile("B", "Lovelace", "Adda", "", "+44 20 7123 4567"))
    assert a & b
    assert "p:071234567" in a & b
    assert not dedup.blocking_keys(Profile("C", "", "", "info@acme.io")) & {"l:info"}


def test_candidate_pairs_skip_blocks_too_big_to_mean_anything_and_yield_each_pair_once():
    crowd = [Profile(f"P{n:03d}", "John", "Smith") for n in range(5)]
    pairs = list(dedup.candidate_pairs(crowd, max_block=10))
    assert len(pairs) == 10 and len(set((x.id, y.id) for x, y in pairs)) == 10
    assert list(dedup.candidate_pairs(crowd, max_block=4)) == []


def test_find_duplicates_ranks_best_first_above_the_threshold():
    people = [
        Profile("A", "Ada", "Lovelace", "ada@acme.io"),
        Profile("B", "Ada", "Lovelace", "ADA@acme.io"),
        Profile("C", "Adda", "Lovelace", "ada@acme.io"),
        Profile("D", "Grace", "Hopper", "grace@navy.mil"),
    ]
    found = dedup.find_duplicates(people)
    assert (found[0].a, found[0].b) == ("A", "B")
    assert {(s.a, s.b) for s in found} == {("A", "B"), ("A", "C"), ("B", "C")}
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def contact(contact_id: str, updated: int, **fields):
    made = new_contact(contact_id, "T1", ContactFields(**fields), T0 + dt.timedelta(days=updated))
    return made


def test_the_winners_values_survive_empty_ones_come_from_the_most_recent_loser():
    winner = contact("W", 0, given_name="Ada", title="", tags=("vip",), custom_fields={"region": "EMEA"})
    old = contact("L1", 1, given_name="Adda", title="Countess", phone="+442071234567", tags=("a",))
    new = contact(
        "L2", 5, given_name="A.", title="Analyst", tags=("b", "vip"), custom_fields={"region": "US", "size": 3}
    )
    data, sources = survivorship.survivors(winner, [old, new], {})
    assert (data.given_name, data.title, data.phone) == ("Ada", "Analyst", "+442071234567")
    assert data.tags == ("vip", "b", "a")
    assert data.custom_fields == {"region": "EMEA", "size": 3}
    assert sources == {"givenName": "W", "title": "L2", "phone": "L1"}


def test_explicit_choices_win_even_over_the_winner_and_unknown_sources_are_refused():
    winner = contact("W", 0, given_name="Ada", email="old@acme.io", custom_fields={"region": "EMEA"})
    loser = contact("L", 1, given_name="Ada", email="new@acme.io", custom_fields={"region": "US"})
    data, _ = survivorship.survivors(winner, [loser], {"email": "L", "customFields.region": "L"})
    assert data.email == "new@acme.io" and data.custom_fields == {"region": "US"}
    with pytest.raises(InvalidArgument) as caught:
        survivorship.survivors(winner, [loser], {"email": "X", "etag": "L"})
    assert {v.field for v in caught.value.violations} == {"fieldChoices.email", "fieldChoices.etag"}
