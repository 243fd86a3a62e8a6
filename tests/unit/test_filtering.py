import pytest
import sqlalchemy as sa

from crmkit.errors import InvalidArgument
from crmkit.filtering import Field, Kind, compile_filter, parse, parse_order_by, uses_key_types

T = sa.table("t", sa.column("name"), sa.column("stage"), sa.column("tags"), sa.column("extra"), sa.column("created"))
FIELDS = [
    Field("name", T.c.name, Kind.TEXT, sortable=True),
    Field("stage", T.c.stage, Kind.ENUM),
    Field("tags", T.c.tags, Kind.TEXT_LIST),
    Field("created", T.c.created, Kind.TIMESTAMP, sortable=True),
]


def error(text: str) -> str:
    with pytest.raises(InvalidArgument) as caught:
        compile_filter(text, FIELDS, "sqlite")
    [violation] = caught.value.violations
    assert violation.field == "filter"
    return violation.description


def test_or_binds_tighter_than_and_as_aip_160_says():
    tree = parse("a = 1 AND b = 2 OR c = 3")
    assert tree.data == "expression"
    assert [child.data for child in tree.children] == ["restriction", "factor"]


def test_terms_side_by_side_are_anded_and_not_negates():
    assert parse("a = 1 b = 2").data == "sequence"
    assert parse("NOT a = 1").data == "negation" and parse("-a = 1").data == "negation"


def test_an_empty_filter_means_everything():
    assert compile_filter("   ", FIELDS, "sqlite") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name = ", "syntax error at column"),
        ("name == 'x'", "syntax error"),
        ("shoe = 42", "cannot filter on 'shoe'"),
        ("stage > LEAD", "only be compared with = or !="),
        ("tags = vip", "is a list: use tags:value"),
        ("created > yesterday", "RFC 3339"),
        ('created > "2026-01-01T00:00:00"', "time zone"),
        ("name.first = x", "has no sub-fields"),
        ("stage:LEAD", "':' applies to text and lists"),
    ],
)
def test_problems_are_named(text, says):
    assert says in error(text)


def test_an_overlong_filter_is_refused():
    assert "longer than" in error("name = x AND " * 500 + "name = x")


def test_order_by_takes_sortable_fields_with_optional_direction():
    orders = parse_order_by("created desc, name", FIELDS, default=[])
    assert [(o.field.path, o.descending) for o in orders] == [("created", True), ("name", False)]
    for bad, says in [("stage", "cannot order by 'stage'"), ("name sideways", "name desc")]:
        with pytest.raises(InvalidArgument) as caught:
            parse_order_by(bad, FIELDS, default=[])
        assert says in caught.value.violations[0].description and caught.value.violations[0].field == "order_by"


def test_a_boolean_field_takes_true_or_false_with_equality_only():
    flags = [Field("done", sa.column("done"), Kind.BOOLEAN)]
    compiled = compile_filter("done = true", flags, "sqlite")
    assert compiled is not None and str(compiled.compile(compile_kwargs={"literal_binds": True})) == "done = true"
    for text in ("done = maybe", "done > false", 'done = "true"'):
        with pytest.raises(InvalidArgument) as caught:
            compile_filter(text, flags, "sqlite")
        assert "true or false" in caught.value.violations[0].description


def test_key_types_matter_only_where_the_filter_or_order_can_name_a_typed_key():
    fields = [*FIELDS, Field("extra", T.c.extra, Kind.JSON_OBJECT)]
    assert not uses_key_types("", "", fields)
    assert not uses_key_types('stage = LEAD AND name:"ada"', "created desc, name", fields)
    assert uses_key_types("extra.region = EMEA", "", fields)
    assert uses_key_types("", "extra.seats desc", fields)
    assert uses_key_types("", "name, seats", fields)  # unknown: its error lists the typed keys
    assert uses_key_types("", "stage", fields)  # not sortable: its error too lists the typed keys
    assert not uses_key_types('name = "extra"', "", FIELDS)  # no JSON object field, nothing typed
