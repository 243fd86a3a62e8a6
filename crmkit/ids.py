"""Identifiers: ULIDs, time-ordered so that id order is creation order and cursors stay cheap."""

from ulid import ULID


def new_id() -> str:
    return str(ULID())
