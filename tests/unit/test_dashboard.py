"""The Grafana dashboard queries only metrics the code exports, and covers each kind of signal."""

import json
import re
from pathlib import Path

from prometheus_client import Counter, Histogram

from crmkit import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "crm-dashboard.json"


def exported_series() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_bucket", f"{value._name}_sum", f"{value._name}_count"}
        elif hasattr(value, "_name") and hasattr(value, "labels"):
            names.add(value._name)
    return names


def queried() -> set[str]:
    document = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in document["panels"] for t in p["targets"]]
    expressions += [v["query"] for v in document["templating"]["list"] if v["type"] == "query"]
    return {name for e in expressions for name in re.findall(r"\bcrm_[a-z_]+", e)}


def test_every_queried_metric_is_exported():
    assert queried(), "the dashboard queries nothing"
    assert queried() <= exported_series(), queried() - exported_series()


def test_every_exported_metric_is_on_the_dashboard():
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in exported_series()}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in queried()}
    assert families <= shown, families - shown
