"""The in-process idempotency store of the embedded mode keeps the same promises as Redis."""

from gateway.idempotency import (
    Claimed,
    InFlight,
    InProcessIdempotencyStore,
    Mismatch,
    Replay,
    StoredResponse,
    fingerprint,
)

DONE = StoredResponse(200, b'{"id": "C1"}', {"ETag": '"e1"'})


def test_the_first_request_claims_a_running_one_blocks_a_finished_one_replays():
    store, print_ = InProcessIdempotencyStore(), fingerprint("POST", "/v1/contacts", "", {"givenName": "Ada"})
    assert store.begin("k", print_, 30) == Claimed()
    assert store.begin("k", print_, 30) == InFlight()
    store.finish("k", print_, DONE, 3600)
    assert store.begin("k", print_, 30) == Replay(DONE)
    assert store.begin("k", fingerprint("POST", "/v1/contacts", "", {"givenName": "Bob"}), 30) == Mismatch()


def test_a_released_key_runs_again_and_an_expired_hold_is_taken_over():
    store = InProcessIdempotencyStore()
    assert store.begin("k", "f", 30) == Claimed()
    store.release("k")
    assert store.begin("k", "f", 30) == Claimed()
    assert store.begin("stale", "f", 0) == Claimed()
    assert store.begin("stale", "f", 30) == Claimed()


def test_the_fingerprint_ignores_key_order_but_not_values():
    assert fingerprint("POST", "/p", "", {"a": 1, "b": 2}) == fingerprint("POST", "/p", "", {"b": 2, "a": 1})
    assert fingerprint("POST", "/p", "", {"a": 1}) != fingerprint("PATCH", "/p", "", {"a": 1})
