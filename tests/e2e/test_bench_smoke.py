"""`make bench` at a tiny size: every scenario reports our figure, its raw baseline and the ratio."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.support import ROOT

pytestmark = pytest.mark.e2e


def test_the_benchmark_report_has_every_scenario_with_baselines_and_ratios(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--size",
            "60",
            "--search-size",
            "3000",
            "--import-rows",
            "300",
            "--forecast-size",
            "2000",
            "--dedup-size",
            "3000",
            "--segment-size",
            "2000",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert [s["scenario"] for s in report["scenarios"]] == [
        "gateway",
        "events",
        "search",
        "import",
        "webhooks",
        "forecast",
        "dedup",
        "segments",
    ]
    for scenario in report["scenarios"]:
        assert scenario["ours"] and scenario["baselines"] and scenario["goals"]
        assert all(isinstance(v, int | float) and v > 0 for v in scenario["ratios"].values()), scenario["ratios"]
    assert report["machine"]["cpus"] >= 1
    assert "| goal | met |" in (tmp_path / "report.md").read_text()
