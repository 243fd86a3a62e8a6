from types import SimpleNamespace

import pytest

from crmkit.errors import Unauthenticated
from crmkit.grpcclient import IdentityAndDeadline
from crmkit.tokens import InternalTokens, Principal, acting_as

TOKENS = InternalTokens("k" * 40)


def details(timeout=None, metadata=None):
    return SimpleNamespace(
        method="/x.Y/Z", timeout=timeout, metadata=metadata, credentials=None, wait_for_ready=None, compression=None
    )


def sent(interceptor, call_details):
    captured = []
    interceptor.intercept_unary_unary(lambda d, _r: captured.append(d), call_details, b"")
    return captured[0]


def test_a_call_without_a_deadline_gets_the_default_and_one_with_keeps_its_own():
    interceptor = IdentityAndDeadline(deadline_seconds=3)
    with acting_as(TOKENS, Principal("T", "s", frozenset())):
        assert sent(interceptor, details()).timeout == 3
        assert sent(interceptor, details(timeout=0.5)).timeout == 0.5


def test_the_identity_is_added_unless_the_call_brings_its_own():
    interceptor = IdentityAndDeadline(deadline_seconds=3)
    with acting_as(TOKENS, Principal("T", "s", frozenset())):
        [(key, value)] = sent(interceptor, details()).metadata
        assert key == "authorization" and TOKENS.verify(value.removeprefix("Bearer ")).tenant_id == "T"
    own = [("authorization", "Bearer explicit")]
    assert sent(interceptor, details(metadata=own)).metadata == own


def test_no_identity_is_an_error_not_an_anonymous_call():
    with pytest.raises(Unauthenticated):
        sent(IdentityAndDeadline(deadline_seconds=3), details())
