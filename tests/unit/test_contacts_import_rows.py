"""The pure parts of CSV imports: reading CSV in pieces, mapping checks, row checks and merges."""

import pytest

from crmkit.tokens import Principal
from services.contacts.domain import ContactFields
from services.contacts.imports import CheckedRow, MalformedFile, check_mapping, check_row, columns_of, merge, read_csv

ADMIN = Principal("T", "apikey:a", frozenset({"contacts:import", "contacts:assign"}))
IMPORTER = Principal("T", "apikey:i", frozenset({"contacts:import"}))


def test_records_split_across_pieces_and_multibyte_characters_read_whole():
    data = 'name,note\n"Zoë","two\nlines"\nBo,x\n'.encode()
    pieces = [data[i : i + 3] for i in range(0, len(data), 3)]
    assert list(read_csv(pieces)) == [["name", "note"], ["Zoë", "two\nlines"], ["Bo", "x"]]
    assert list(read_csv([b"\xef\xbb\xbfa,b\r\n1,2"])) == [["a", "b"], ["1", "2"]]  # BOM, CRLF, no final newline


@pytest.mark.parametrize(
    ("data", "message"),
    [(b'a\n"open\n', "not valid CSV"), (b"a\n\xff\n", "not UTF-8"), (b'a\n"x"y\n', "not valid CSV")],
)
def test_malformed_files_are_refused(data, message):
    with pytest.raises(MalformedFile, match=message):
        list(read_csv([data]))


def test_a_mapping_names_valid_fields_once_and_includes_the_match_key():
    assert check_mapping({"E": "email", "R": "customFields.region"}, "EMAIL", IMPORTER) == []
    fields = {v.field for v in check_mapping({"A": "nickname", "B": "givenName", "C": "givenName"}, "EMAIL", IMPORTER)}
    assert fields == {"columnMapping.A", "columnMapping.C", "columnMapping"}
    assert [v.field for v in check_mapping({"E": "email", "O": "ownerId"}, "EMAIL", IMPORTER)] == ["columnMapping.O"]
    assert check_mapping({"E": "email", "O": "ownerId"}, "EMAIL", ADMIN) == []
    assert [v.description for v in check_mapping({"E": "email"}, "EXTERNAL_ID", ADMIN)] == [
        "map a column to externalId: rows are matched by it"
    ]


def test_a_row_is_normalised_by_the_contact_rules_and_empty_cells_set_nothing():
    columns = columns_of(["Mail", "Phone", "Tags", "Stage", "Region", "Name"], {
        "Mail": "email", "Phone": "phone", "Tags": "tags", "Stage": "lifecycleStage",
        "Region": "customFields.region", "Name": "givenName",
    })  # fmt: skip
    row = check_row(1, ["Ann@Example.COM", "+1 415 555 0123", "a; b;", "customer", "EMEA", ""], columns, 6, "EMAIL")
    assert row == CheckedRow(
        1,
        "ann@example.com",
        {
            "email": "Ann@example.com",
            "phone": "+14155550123",
            "tags": ("a", "b"),
            "lifecycle_stage": "CUSTOMER",
            "custom_fields": {"region": "EMEA"},
        },
    )
    problems = check_row(2, ["bad", "12", "", "nope", "", ""], columns, 6, "EMAIL")
    assert [field for field, _ in problems] == ["email", "phone", "lifecycleStage"]
    assert check_row(3, ["", "", "", "", "", "Ann"], columns, 6, "EMAIL") == [
        ("email", "is empty; rows are matched by it")
    ]
    assert check_row(4, ["a@example.com"], columns, 6, "EMAIL") == [("", "has 1 columns; the header has 6")]


def test_a_merge_keeps_unmapped_fields_and_merges_custom_fields_by_key():
    current = ContactFields(given_name="Ann", title="CTO", custom_fields={"a": "1", "b": "2"})
    merged = merge(current, {"title": "CEO", "custom_fields": {"b": "3"}})
    assert merged == ContactFields(given_name="Ann", title="CEO", custom_fields={"a": "1", "b": "3"})


def test_a_header_without_a_mapped_column_is_malformed():
    with pytest.raises(MalformedFile, match="no column 'Mail'"):
        columns_of(["Email"], {"Mail": "email"})


def test_cells_become_the_json_values_their_custom_field_definition_expects():
    from services.contacts.custom_fields import DefinitionFields, from_text

    def of(kind: str) -> DefinitionFields:
        return DefinitionFields(object_type="CONTACT", key="k", type=kind, options=("a", "b"))

    assert from_text(of("NUMBER"), "12") == 12 and from_text(of("NUMBER"), "1.5") == 1.5
    assert from_text(of("NUMBER"), "many") == "many"  # left for the check to refuse, naming the field
    assert from_text(of("BOOLEAN"), "Yes") is True and from_text(of("BOOLEAN"), "0") is False
    assert from_text(of("MULTI_SELECT"), "a; b;") == ["a", "b"]
    assert from_text(of("DECIMAL"), "1234.50") == "1234.50"
    assert from_text(None, "free") == "free"
