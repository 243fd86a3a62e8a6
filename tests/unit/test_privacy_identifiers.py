"""What a person is found and scrubbed by: cleaned identifiers, longest first, short names spared."""

from crmkit.privacy import ERASED, Identifiers, contains, scrub, scrub_bytes


def test_needles_are_cleaned_deduplicated_and_longest_first():
    found = Identifiers.of([" Ada@Example.org ", ""], ["+4930123456", "+4930123456"], ["Ada Lovelace", "Ada", "Li"])
    assert found.needles == ("Ada@Example.org", "Ada Lovelace", "+4930123456", "Ada")
    assert found.email_keys == ("ada@example.org",)


def test_scrub_replaces_every_occurrence_in_any_case_and_the_full_name_before_its_parts():
    needles = Identifiers.of(["ada@example.org"], [], ["Ada Lovelace", "Ada"]).needles
    text = "ADA LOVELACE (ada@EXAMPLE.org) wrote; Ada again. Adam stays? No: [Ada]m."
    assert scrub(text, needles) == f"{ERASED} ({ERASED}) wrote; {ERASED} again. {ERASED}m stays? No: [{ERASED}]m."
    assert scrub("", needles) == "" and scrub("anything", ()) == "anything"
    assert contains("Mail ADA@example.org", needles) and not contains("Bob", needles)


def test_bytes_are_scrubbed_exactly():
    assert scrub_bytes(b"email,ada@example.org\n", ["ada@example.org"]) == b"email,[erased]\n"
