"""AIP-158 pagination: page_size defaults and limits, and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from crmkit.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument.of([FieldViolation("page_size", "must not be negative")])
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_cursor(after: Any, scope: str) -> str:
    """An opaque token for the page after `after` (an id, or a list of sort values ending with one);
    `scope` ties it to the listing, filter and order that made it."""
    raw = json.dumps({"a": after, "s": scope}, separators=(",", ":"), default=_encode_value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, scope: str) -> Any:
    """The position a token stands for (None for the first page); a foreign or damaged token is 400."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), object_hook=_decode_value)
        after, token_scope = data["a"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgument.of([FieldViolation("page_token", "is not a token this listing issued")]) from None
    if token_scope != scope or not isinstance(after, str | list):
        raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")])
    return after


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$d": str(value)}
    raise TypeError(f"cannot put {type(value).__name__} in a page token")


def _decode_value(value: dict[str, Any]) -> Any:
    if set(value) == {"$t"}:
        return dt.datetime.fromisoformat(value["$t"])
    return decimal.Decimal(value["$d"]) if set(value) == {"$d"} else value


def page_of(fetched: Sequence[T], size: int, key: Callable[[T], Any], scope: str) -> tuple[list[T], str]:
    """Split up to `size + 1` rows fetched after the cursor into the page and the next page's token."""
    page = list(fetched[:size])
    return page, encode_cursor(key(page[-1]), scope) if len(fetched) > size else ""


def listing_scope(kind: str, *parts: str) -> str:
    """The scope of a listing's cursors: a token is only good for the listing (kind, filter, order,
    free text...) that issued it."""
    return f"{kind}:" + hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


def keyset_after(page_token: str, scope: str) -> list[Any] | None:
    """The keyset position a page token carries (None on the first page)."""
    after = decode_cursor(page_token, scope)
    if after is not None and not isinstance(after, list):
        raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")])
    return after
