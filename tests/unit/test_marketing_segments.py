import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.marketing.domain import AudienceMember
from services.marketing.domain.segments import Engagement, matches, parse, uses_engagement

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def member(stage: str = "LEAD", tags: tuple[str, ...] = ("vip",), **custom) -> AudienceMember:
    return AudienceMember("T", "C", "ada@example.com", "Ada", "L", stage, tags, NOW, custom_fields=custom)


def test_all_any_not_over_attributes_tags_and_custom_fields():
    rule = parse(
        {
            "all": [
                {"field": "lifecycleStage", "operator": "in", "value": ["LEAD", "MQL"]},
                {
                    "any": [
                        {"field": "tags", "operator": "contains", "value": "VIP"},
                        {"field": "customFields.seats", "operator": "gt", "value": 10},
                    ]
                },
                {"not": {"field": "email", "operator": "contains", "value": "@competitor."}},
            ]
        }
    )
    assert matches(rule, member(), [], NOW)
    assert matches(rule, member(tags=(), seats=12), [], NOW)
    assert not matches(rule, member(tags=(), seats=3), [], NOW)
    assert not matches(rule, member(stage="CUSTOMER"), [], NOW)
    assert not matches(rule, AudienceMember("T", "C", "x@competitor.io", "", "", "LEAD", ("vip",), NOW), [], NOW)


def test_exists_and_not_exists_on_custom_fields():
    assert matches(parse({"field": "customFields.plan", "operator": "exists"}), member(plan="pro"), [], NOW)
    assert matches(parse({"field": "customFields.plan", "operator": "notExists"}), member(), [], NOW)


def test_engagement_within_a_window_and_for_a_campaign():
    clicked = parse({"engagement": "clicked", "withinDays": 30})
    of_c1 = parse({"engagement": "clicked", "withinDays": 30, "campaignId": "C1"})
    recent = [Engagement("clicked", "C2", NOW - dt.timedelta(days=3))]
    old = [Engagement("clicked", "C1", NOW - dt.timedelta(days=31))]
    assert matches(clicked, member(), recent, NOW) and not matches(of_c1, member(), recent, NOW)
    assert not matches(clicked, member(), old, NOW)
    assert not matches(clicked, member(), [Engagement("opened", "C2", NOW)], NOW)
    assert uses_engagement(parse({"not": {"all": [{"engagement": "opened", "withinDays": 1.0}]}}))


def test_a_deleted_contact_matches_nothing():
    deleted = AudienceMember("T", "C", "", "", "", "", (), NOW, deleted=True)
    assert not matches(parse({"not": {"field": "email", "operator": "exists"}}), deleted, [], NOW)


@pytest.mark.parametrize(
    ("tree", "fields"),
    [
        (
            {
                "all": [
                    {"field": "email", "operator": "exists"},
                    {},
                    {"field": "nope", "operator": "equals", "value": 1},
                ]
            },
            {"rules.all[1]", "rules.all[2].field"},
        ),
        ({"any": []}, {"rules.any"}),
        ({"not": {"field": "tags", "operator": "like", "value": "x"}}, {"rules.not.operator"}),
        ({"engagement": "liked", "withinDays": 0}, {"rules.engagement", "rules.withinDays"}),
        ({"field": "tags", "operator": "in", "value": "vip"}, {"rules.value"}),
        ([1], {"rules"}),
    ],
)
def test_invalid_trees_name_each_bad_field(tree, fields):
    with pytest.raises(InvalidArgument) as caught:
        parse(tree)
    assert {v.field for v in caught.value.violations} == fields


def test_depth_is_bounded():
    tree: dict = {"field": "email", "operator": "exists"}
    for _ in range(10):
        tree = {"not": tree}
    with pytest.raises(InvalidArgument):
        parse(tree)
