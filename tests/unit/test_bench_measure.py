import pytest

from bench.measure import closed_loop, percentile


def test_a_failing_call_fails_the_measurement_instead_of_reporting_a_figure():
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) > 25:
            raise ConnectionError("429 Too Many Requests")

    with pytest.raises(RuntimeError, match="429"):
        closed_loop(flaky, requests=100, concurrency=4, warmup=0)


def test_every_call_is_timed_once():
    figures = closed_loop(lambda: None, requests=50, concurrency=3, warmup=5)
    assert figures.count == 50 and figures.p99_ms >= figures.p50_ms >= 0


def test_percentiles_pick_from_the_sorted_values():
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3 and percentile([5, 1, 3, 2, 4], 1.0) == 5 and percentile([], 0.5) == 0
