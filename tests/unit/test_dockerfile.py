"""The image's build, short of the base image (no container engine here): the Dockerfile's shape,
and a wheel built from exactly what it copies holds everything `crm` needs at run time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
SERVICES = ("contacts", "sales", "support", "marketing", "integrations")


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE, flags=re.M)


def copied_sources() -> list[str]:
    return [args.split()[0] for args in instructions("COPY") if not args.startswith("--from")]


def test_the_image_is_multi_stage_non_root_and_runs_crm():
    assert len(instructions("FROM")) >= 2, "a builder stage and a slim runtime stage"
    user = instructions("USER")[-1].strip()
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"a numeric non-root USER, got {user!r}"
    assert instructions("ENTRYPOINT")[-1].strip() == '["crm"]'
    assert not any(source.startswith("tests") for source in copied_sources())


def test_everything_the_dockerfile_copies_exists():
    for source in copied_sources():
        assert (ROOT / source).exists(), source


def test_a_wheel_built_from_the_copied_paths_has_what_crm_needs(tmp_path: Path):
    context = tmp_path / "context"
    context.mkdir()
    for source in copied_sources():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, context / source)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = tmp_path.glob("crm_suite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "crm/contacts/v1/contacts_pb2.py",
        "suite/cli.py",
        "gateway/migrations/env.py",
        *(f"services/{s}/migrations/env.py" for s in SERVICES),
        *(f"services/{s}/migrations/script.py.mako" for s in SERVICES),
    }
    assert expected <= names, sorted(expected - names)
    for service in SERVICES:
        assert any(n.startswith(f"services/{service}/migrations/versions/") and n.endswith(".py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "crm = suite.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
