import datetime as dt

from services.marketing.domain import AudienceMember, supersedes

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def member(version: dt.datetime, deleted: bool = False) -> AudienceMember:
    return AudienceMember("T", "C", "a@b.c", "A", "B", "", (), version, deleted)


def test_first_version_is_always_taken():
    assert supersedes(T0, None)


def test_newer_versions_win_and_late_or_repeated_ones_change_nothing():
    current = member(T0)
    assert supersedes(T0 + dt.timedelta(seconds=1), current)
    assert not supersedes(T0, current)
    assert not supersedes(T0 - dt.timedelta(seconds=1), current)


def test_a_tombstone_is_not_resurrected_by_a_late_update():
    assert not supersedes(T0, member(T0 + dt.timedelta(seconds=1), deleted=True))
