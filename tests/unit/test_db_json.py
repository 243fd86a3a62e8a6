import json

from crmkit.db import json_loads


def test_json_columns_decode_as_json_loads_does():
    for text in ('{"region": "EMEA", "seats": 12345678901234567890123}', '["vip", "eu"]', "1.5", "null", '"x"'):
        assert json_loads(text) == json_loads(text.encode()) == json.loads(text)
    assert json_loads(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert json_loads(b"12345678901234567890123") == 12345678901234567890123


def test_empty_lists_and_objects_are_fresh_each_time():
    first, second = json_loads(b"[]"), json_loads("[]")
    assert first == second == [] and first is not second
    first.append("changed")
    assert json_loads(b"[]") == []
    assert json_loads(b"{}") == {} and json_loads("{}") is not json_loads("{}")
