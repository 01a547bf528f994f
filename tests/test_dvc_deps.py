"""dvc.yaml's code dependencies are exactly what each stage's command imports.

The import graph is computed by scripts/dvc_deps.py (``--write`` updates dvc.yaml); these tests
fail when a stage's code imports a module its deps miss, or depends on code it never runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("dvc_deps", REPO / "scripts" / "dvc_deps.py")
dvc_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dvc_deps)
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def declared(stage: dict) -> list[Path]:
    return [REPO / d for d in stage.get("do", stage).get("deps", []) if d.startswith("src/")]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_dependency(name):
    deps = declared(STAGES[name])
    used = dvc_deps.used_files(dvc_deps.stage_command(STAGES[name]))
    missing = sorted(
        str(p.relative_to(REPO)) for p in used if not any(p == d or d in p.parents for d in deps)
    )
    assert not missing, (
        f"dvc.yaml stage {name!r} runs these but does not depend on them: {missing} "
        "(python scripts/dvc_deps.py --write)"
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_depends_on_no_code_it_does_not_run(name):
    used = dvc_deps.used_files(dvc_deps.stage_command(STAGES[name]))
    unused = [
        str(d.relative_to(REPO))
        for d in declared(STAGES[name])
        if any(p not in used for p in ([d] if d.suffix == ".py" else d.rglob("*.py")))
    ]
    assert not unused, f"dvc.yaml stage {name!r} depends on code it never runs: {unused}"


@pytest.mark.parametrize("name", ["prepare", "embed"])
def test_expensive_stages_do_not_depend_on_every_lightning_config(name):
    """A probe config edit must not re-decode every track (prepare) or re-embed (embed)."""
    deps = STAGES[name].get("do", STAGES[name]).get("deps", [])
    assert not any(d.rstrip("/") in ("lightning_configs", "${embed.config_dir}") for d in deps)


def test_the_stage_graph_is_the_imported_one():
    """The import graph itself: the probe stage runs analysis.statistics (as it should) and the
    prepare stage runs no probe, analysis or systems code."""
    probe = {str(p.relative_to(REPO)) for p in dvc_deps.used_files("probe")}
    assert "src/emofx/analysis/statistics.py" in probe and "src/emofx/embed/store.py" in probe
    prepare = {str(p.relative_to(REPO)) for p in dvc_deps.used_files("prepare")}
    assert not any(
        p.startswith(("src/emofx/probes/run", "src/emofx/analysis/run", "src/emofx/systems/run"))
        for p in prepare
    ), sorted(prepare)
