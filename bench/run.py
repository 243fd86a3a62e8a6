"""`make bench`: run the scenarios, print the figures, write bench/report.md and bench/report.json.

    python -m bench.run --size 2000            # for people: the default size
    python -m bench.run --size 100 --out DIR   # a smoke run (make test runs one)
    python -m bench.run --only search --search-size 1000000
    python -m bench.run --only search --keep-search-database   # load 1M contacts once, reuse them
    python -m bench.run --only import --import-rows 1000000   # the CSV import at full size
    python -m bench.run --only forecast --forecast-size 1000000
    python -m bench.run --only dedup --dedup-size 1000000
    python -m bench.run --only segments --segment-size 1000000
    python -m bench.run --only gateway,events --merge   # re-measure two, keep the others' figures

PostgreSQL and RabbitMQ are found as the tests find them (CRM_TEST_* variables, testcontainers, or
the local services). Every figure stands next to its raw baseline from the same run, with the
ratio: these machines are noisy, so only ratios compare across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from crmkit.migrations import upgrade
from tests.infra import Databases, migrations_of, postgres_admin_url, rabbitmq_url, redis_url

SCENARIOS = ("gateway", "events", "search", "import", "webhooks", "forecast", "dedup", "segments")
SEGMENT_SIZE = 100_000
# bench/import.py's default: a million rows (minutes); smoke runs pass a small --import-rows.
IMPORT_ROWS = 1_000_000
NOT_YET: dict[str, str] = {}


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def run(
    size: int,
    only: list[str],
    search_size: int = 1_000_000,
    import_rows: int = IMPORT_ROWS,
    forecast_size: int = 1_000_000,
    dedup_size: int = 1_000_000,
    segment_size: int = SEGMENT_SIZE,
    keep_search_database: bool = False,
) -> dict[str, Any]:
    from bench import dedup, events, forecast, gateway, search, segments, webhooks

    csv_import = importlib.import_module("bench.import")  # `import` is a keyword

    results = []
    with postgres_admin_url() as admin_url, rabbitmq_url() as amqp_url, redis_url() as redis:
        databases = Databases(admin_url)
        try:
            if "gateway" in only:
                with tempfile.TemporaryDirectory() as workdir:
                    results.append(gateway.run(size, Path(workdir), databases.template("bench"), amqp_url, redis))
            if "events" in only:
                urls = {}
                for service in ("contacts", "marketing"):
                    urls[service] = databases.create(f"bench_{service}")
                    upgrade(migrations_of(service), urls[service])
                results.append(events.run(size, urls["contacts"], urls["marketing"], amqp_url))
            if "search" in only:
                requests = max(20, min(size, 200))
                if keep_search_database:  # not one of this run's databases: drop_all leaves it
                    url, reuse = search.kept_database(admin_url, search_size)
                    results.append(search.run(search_size, url, requests=requests, reuse=reuse))
                else:
                    url = databases.create("bench_search")
                    upgrade(migrations_of("contacts"), url)
                    results.append(search.run(search_size, url, requests=requests))
            if "import" in only:
                results.append(csv_import.run(import_rows, *csv_import.prepared(databases)))
            if "webhooks" in only:
                url = databases.create("bench_integrations")
                upgrade(migrations_of("integrations"), url)
                results.append(webhooks.run(size, url))
            if "forecast" in only:
                url = databases.create("bench_sales")
                upgrade(migrations_of("sales"), url)
                results.append(forecast.run(forecast_size, url))
            if "dedup" in only:
                results.append(dedup.run(dedup_size))
            if "segments" in only:
                url = databases.create("bench_segments")
                upgrade(migrations_of("marketing"), url)
                results.append(segments.run(segment_size, url, samples=max(20, min(size, 200))))
        finally:
            databases.drop_all()
    for result in results:  # each scenario says when it ran: a merged report holds several runs
        result["measured"] = f"{machine()['time']}, load average {os.getloadavg()[0]:.1f}"
    return {"size": size, "machine": machine(), "scenarios": results, "not_yet": NOT_YET}


def merged(earlier: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """`earlier` with the scenarios `report` measured replaced by its figures, in SCENARIOS order."""
    fresh = {result["scenario"]: result for result in report["scenarios"]}
    when = earlier.get("machine", {}).get("time", "in an earlier run")
    kept = {result["scenario"]: {"measured": when, **result} for result in earlier.get("scenarios", [])}
    scenarios = [fresh.get(name) or kept[name] for name in SCENARIOS if name in fresh or name in kept]
    return {**report, "size": earlier.get("size", report["size"]), "scenarios": scenarios}


def markdown(report: dict[str, Any]) -> str:
    host = report["machine"]
    lines = [
        "# Benchmark report",
        "",
        f"Size {report['size']}; {host['cpus']} CPUs, {host['memory_gib']} GiB, {host['platform']}, "
        f"Python {host['python']}; {host['time']}.",
        "",
        "Every figure stands beside its raw baseline from the same run; compare the ratios, not the absolute numbers.",
        "",
    ]
    for result in report["scenarios"]:
        lines += [f"## {result['scenario']}", "", result["setup"], ""]
        if "measured" in result:
            lines += [f"Measured in the run that ended {result['measured']}.", ""]
        lines += ["| measured | figures |", "|---|---|"]
        lines += [f"| ours: {name} | `{json.dumps(value)}` |" for name, value in result["ours"].items()]
        for baseline, values in result["baselines"].items():
            lines += [f"| baseline {baseline}: {name} | `{json.dumps(value)}` |" for name, value in values.items()]
        lines += ["", "| ratio | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in result["ratios"].items()]
        lines += ["", "| goal | met |", "|---|---|"]
        lines += [f"| {goal} | {'yes' if met else '**no**'} |" for goal, met in result["goals"].items()]
        lines.append("")
    lines += ["## Not measured yet", ""] + [f"- {name}: {why}" for name, why in report["not_yet"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write the report.")
    parser.add_argument("--size", type=int, default=2000, help="requests or events per measurement")
    parser.add_argument("--search-size", type=int, default=1_000_000, help="contacts loaded for the search scenario")
    parser.add_argument(
        "--forecast-size", type=int, default=1_000_000, help="opportunities the forecast scenario loads"
    )
    parser.add_argument("--dedup-size", type=int, default=1_000_000, help="contacts in the duplicate-finding set")
    parser.add_argument("--segment-size", type=int, default=SEGMENT_SIZE, help="audience of the segments scenario")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS, help="rows of the CSV import scenario")
    parser.add_argument(
        "--keep-search-database",
        action="store_true",
        help="keep the search scenario's loaded contacts (database crmbench_search_<size>) and reuse them next time",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="where report.md and .json go")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the scenarios run now in the report already in --out; each scenario says when it ran",
    )
    args = parser.parse_args()
    only = [s for s in args.only.split(",") if s]
    if unknown := set(only) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}")
    report = run(
        args.size,
        only,
        args.search_size,
        args.import_rows,
        args.forecast_size,
        args.dedup_size,
        args.segment_size,
        args.keep_search_database,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge and (args.out / "report.json").exists():
        report = merged(json.loads((args.out / "report.json").read_text()), report)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
