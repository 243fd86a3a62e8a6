"""The committed stubs in gen/ must be exactly what `make protos` produces from protos/."""

import filecmp
from pathlib import Path

from tools.gen_protos import GEN, generate


def test_committed_stubs_match_the_protos(tmp_path: Path):
    generate(tmp_path)
    fresh = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(GEN) for p in GEN.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert fresh == committed, "run `make protos`: the set of generated files changed"
    stale = [str(p) for p in sorted(fresh) if not filecmp.cmp(tmp_path / p, GEN / p, shallow=False)]
    assert not stale, f"run `make protos`: stale stubs {stale}"
