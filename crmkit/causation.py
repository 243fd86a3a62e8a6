"""The causation chain: which automation rules led to the work being done (docs/adr/0061).

It travels the way traceparent does: bound while an automation action runs, sent as gRPC metadata
(`crm-causation`) by grpcclient, bound again by the called service's server interceptor, written
into every envelope its outbox writes (Envelope.causation_chain), and bound by a consumer while it
handles that event, so the events it writes in turn carry it too. The automation consumer reads it
to refuse running a rule again inside its own chain. An empty chain: nothing automated caused it.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator, Sequence

METADATA_KEY = "crm-causation"
# More than any chain the automation allows (its depth limit is far lower): a longer one is cut.
MAX_LINKS = 32
_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("crm_causation", default=())


def current() -> tuple[str, ...]:
    return _chain.get()


@contextlib.contextmanager
def bound(chain: Sequence[str]) -> Iterator[None]:
    """Work in this block (calls, outbox rows) is caused by `chain`."""
    token = _chain.set(clean(chain))
    try:
        yield
    finally:
        _chain.reset(token)


def clean(chain: Sequence[str]) -> tuple[str, ...]:
    """Only well-formed links (ids), at most MAX_LINKS, the newest kept: a malformed header is noise."""
    links = tuple(link for link in chain if _LINK.match(link))
    return links[-MAX_LINKS:]


def to_metadata(chain: Sequence[str]) -> str:
    return ",".join(chain)


def from_metadata(value: str | bytes | None) -> tuple[str, ...]:
    if not value:
        return ()
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return clean([part.strip() for part in text.split(",") if part.strip()])
