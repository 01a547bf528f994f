"""Off the default path: the real `dvc repro` on each dataset format, with the tasks it supports.

One temp git + DVC project per format (``tests/pipeline_repo.py``): DEAM, its dynamic task,
Emotify and EMOPIA from the real files in ``../shared/data``; PMEmo and a CSV dataset written here.
Every project runs the handcrafted encoder, one FX condition besides ``clean`` and a ridge probe;
``probe.tasks`` and ``systems.phase1.enabled`` stay ``auto`` (what README "Your own data" shows)
unless a scenario narrows them. Each scenario checks that `emofx check` passes and says what
``auto`` resolved to, the repro completes, the synth stage generated no corpus, every condition has
predictions with the task's columns, and the report has the task's metrics.

The selected scenarios' repros run two at a time (one module fixture), so the file fits its budget
of a few minutes on two cores.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emofx.audio import write_audio
from emofx.datasets.emopia_render import DEFAULT_SOUNDFONTS
from emofx.datasets.synth import PLACEHOLDER_FILE
from tests.conftest import shared_path
from tests.pipeline_repo import make_project, repro, run, tiny_params

pytestmark = pytest.mark.slow

SR = 22_050
#: columns of the per-condition prediction files, per task (DESIGN.md)
TASK_COLUMNS = {
    "regression": ["pred_valence_norm", "pred_arousal_norm"],
    "quadrant": ["pred_quadrant", "prob_q1", "prob_q2", "prob_q3", "prob_q4"],
}
#: what the report shows for each task
REPORT_KEYS = {
    "regression": "r2_valence",
    "quadrant": "f1_macro_quadrant",
    "labels": "f1_micro_labels",
    "dynamic": "Dynamic (2 Hz)",
}
#: quadrant → (valence, arousal) in [-1, 1]; four tracks per quadrant in the written fixtures
QUADRANT_VA = {1: (0.6, 0.6), 2: (-0.6, 0.6), 3: (-0.6, -0.6), 4: (0.6, -0.6)}
N_FIXTURE = 16
GEMS = [
    "amazement",
    "calmness",
    "joyful_activation",
    "nostalgia",
    "power",
    "sadness",
    "solemnity",
    "tenderness",
    "tension",
]


@dataclass(frozen=True)
class Scenario:
    """One dataset format: where its data comes from and what the repro must produce."""

    name: str
    format: str
    data: Callable[[Path], Path]  # folder for written fixtures → dataset root (may skip)
    tasks: list[str]
    systems: bool  # the seed report's systems run (phase 1)
    labels: list[str] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)


def write_tone(path: Path, index: int, seconds: float = 6.0) -> None:
    """A distinct test signal per track: pitch, loudness and a tremolo rate that vary."""
    t = np.arange(int(seconds * SR)) / SR
    tone = np.sin(2 * np.pi * (110 + 37 * index) * t) * (0.1 + 0.05 * (index % 5))
    write_audio(path, (tone * (1 + 0.5 * np.sin(2 * np.pi * (1 + index % 4) * t))) / 2, SR)


def write_pmemo(folder: Path) -> Path:
    """PMEmo's release layout: chorus audio, metadata, static and 2-Hz dynamic annotations."""
    root = folder / "pmemo"
    (root / "chorus").mkdir(parents=True)
    (root / "annotations").mkdir()
    meta, static, dynamic = [], [], []
    for i in range(N_FIXTURE):
        music_id, (v, a) = i + 1, QUADRANT_VA[i % 4 + 1]
        write_tone(root / "chorus" / f"{music_id}.wav", i)
        meta.append(f"{music_id},{music_id}.wav,Song {i},Artist {i},X,6.0,00:00,00:06")
        static.append(f"{music_id},{(a + 1) / 2:.3f},{(v + 1) / 2:.3f}")  # PMEmo scale: [0, 1]
        dynamic += [
            f"{music_id},{t:.1f},{(a + 1) / 2:.3f},{(v + 1) / 2 + 0.01 * k:.3f}"
            for k, t in enumerate(np.arange(3.0, 6.01, 0.5))
        ]
    (root / "metadata.csv").write_text(
        "musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time\n"
        + "\n".join(meta)
        + "\n"
    )
    (root / "annotations/static_annotations.csv").write_text(
        "musicId,Arousal(mean),Valence(mean)\n" + "\n".join(static) + "\n"
    )
    (root / "annotations/dynamic_annotations.csv").write_text(
        "musicId,frameTime,Arousal(mean),Valence(mean)\n" + "\n".join(dynamic) + "\n"
    )
    return root


def write_csv_dataset(folder: Path) -> Path:
    """The README's CSV example: ``filename,valence,arousal,labels`` and ``audio/``."""
    root = folder / "mine"
    (root / "audio").mkdir(parents=True)
    rows = ["filename,valence,arousal,labels"]
    for i in range(N_FIXTURE):
        q = i % 4 + 1
        v, a = QUADRANT_VA[q]
        write_tone(root / "audio" / f"t{i:02d}.wav", i)
        rows.append(f"t{i:02d}.wav,{v},{a},{'happy' if q in (1, 4) else 'sad'}")
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")
    return root


def emopia_release(_: Path) -> Path:
    """The real EMOPIA 1.0 MIDI release (rendered with FluidSynth into the project's cache)."""
    if shutil.which("fluidsynth") is None or not any(p.is_file() for p in DEFAULT_SOUNDFONTS):
        pytest.skip("EMOPIA's MIDI needs FluidSynth and a GM soundfont (install_system_deps.sh)")
    return shared_path("data", "emopia-mini", "EMOPIA_1.0")


DEAM_MINI = {
    "dataset.offset_s": 15.0,  # DEAM's dynamic curves start at 15 s
    "dataset.max_rejected_fraction": 1.0,  # 1792 of the annotated songs have no audio here
}
SCENARIOS = {
    "deam": Scenario(
        "deam",
        "deam",
        lambda _: shared_path("data", "deam-mini"),
        ["regression"],
        systems=True,
        overrides={**DEAM_MINI, "probe.tasks": ["regression"]},  # 10 songs: no Q4, no quadrants
    ),
    "deam-dynamic": Scenario(
        "deam-dyn",
        "deam-dynamic",
        lambda _: shared_path("data", "deam-mini"),
        ["regression", "dynamic"],
        systems=False,
        overrides={
            **DEAM_MINI,
            "embed.frames.enabled": True,
            "probe.tasks": ["regression", "dynamic"],
            "systems.phase1.enabled": False,
        },
    ),
    "emopia": Scenario(
        "emopia",
        "emopia",
        emopia_release,
        ["quadrant"],
        systems=False,
        overrides={"dataset.options": {"split_dir": "split", "render_dir": "RENDERS"}},
    ),
    "pmemo": Scenario(
        "pmemo",
        "pmemo",
        write_pmemo,
        ["regression", "quadrant", "dynamic"],
        systems=True,
        overrides={"embed.frames.enabled": True},
    ),
    "emotify": Scenario(
        "emotify",
        "emotify",
        lambda _: shared_path("data", "emotify-80"),
        ["labels"],
        systems=False,
        labels=GEMS,
        overrides={
            "dataset.options": {"genres": ["classical", "rock"]},
            "dataset.clip_seconds": 4.0,
            "dataset.max_rejected_fraction": 1.0,  # data.csv rates 400 tracks; 80 have audio
        },
    ),
    "csv": Scenario(
        "mine",
        "csv",
        write_csv_dataset,
        ["regression", "quadrant", "labels"],
        systems=True,
        labels=["happy", "sad"],
        overrides={"dataset.options": {"audio_dir": "audio"}},
    ),
}


def scenario_params(s: Scenario, data: Path, project: Path) -> dict:
    """Small everywhere; the scenario's overrides win (``RENDERS``: the project's render cache)."""
    overrides = json.loads(
        json.dumps(s.overrides).replace('"RENDERS"', json.dumps(str(project / "data/renders")))
    )
    return tiny_params(
        **{
            "dataset.name": s.name,
            "dataset.format": s.format,
            "dataset.root": str(data),
            "dataset.clip_seconds": 6.0,
            "dataset.min_seconds": 1.0,
            "dataset.split": {"train": 0.5, "val": 0.25, "test": 0.25},
            "fx.effects": ["gain"],
            "fx.levels": [8],
            "fx.loudness_match": False,
            "fx.audition": {"clips": 0, "excerpt_s": 1.0, "materialise": False},
            "embed.encoders": ["handcrafted"],
            "embed.frames.enabled": False,
            "probe.probes": ["ridge"],
            "probe.register_models": False,
            "systems.phase1.models": ["ridge"],
            "systems.phase1.feature_sets": ["full"],
            "systems.phase1.cv_folds": 2,
            "analysis.n_bootstrap": 100,
            **overrides,
        }
    )


def check_and_repro(project: Path, params: dict) -> tuple[Path, str]:
    """`emofx check` then `dvc repro` in a new project; the project and check's message."""
    make_project(project, params)
    checked = run(["emofx", "check"], project)
    repro(project)
    return project, " ".join(checked.stderr.split())


@pytest.fixture(scope="module")
def projects(request, tmp_path_factory) -> dict[str, object]:
    """Each selected scenario's (project, check message), or why it skipped or failed."""
    wanted = {item.callspec.params["key"] for item in request.session.items if _ours(item)}
    outcomes: dict[str, object] = {}
    jobs = {}
    for key in sorted(wanted):
        folder = tmp_path_factory.mktemp(key)
        try:
            data = SCENARIOS[key].data(folder)
        except pytest.skip.Exception as skip:
            outcomes[key] = skip
            continue
        jobs[key] = (folder / "p", scenario_params(SCENARIOS[key], data, folder / "p"))
    with ThreadPoolExecutor(2) as pool:
        futures = {key: pool.submit(check_and_repro, *job) for key, job in jobs.items()}
        for key, future in futures.items():
            outcomes[key] = future.exception() or future.result()
    return outcomes


def _ours(item: pytest.Item) -> bool:
    return item.module.__name__ == __name__ and hasattr(item, "callspec")


@pytest.mark.parametrize("key", list(SCENARIOS))
def test_repro_completes_per_format(projects, key):
    outcome = projects[key]
    if isinstance(outcome, pytest.skip.Exception):
        pytest.skip(str(outcome))
    if isinstance(outcome, BaseException):
        raise outcome
    project, checked = outcome
    s = SCENARIOS[key]
    check_outputs(project, s)
    if s.overrides.get("probe.tasks") is None:  # auto: emofx check says what it resolved to
        systems = "phase1" if s.systems else "none"
        assert f"probe tasks: {', '.join(s.tasks)}; systems: {systems}" in checked


@pytest.mark.parametrize("key", ["emotify"])
def test_labels_only_dataset_repro_completes(projects, key):
    """Explicitly: a dataset with labels and no valence/arousal (Emotify) runs end to end."""
    test_repro_completes_per_format(projects, key)


def check_outputs(project: Path, s: Scenario) -> None:
    """Synth wrote only its note; predictions per condition with the tasks' columns; report."""
    assert [p.name for p in (project / "data/raw/synth").iterdir()] == [PLACEHOLDER_FILE]
    conditions = [
        c["id"] for c in json.loads((project / "data/conditions.json").read_text())["conditions"]
    ]
    assert conditions == ["clean", "gain@8"]
    manifest = pd.read_parquet(project / f"data/prepared/{s.name}/manifest.parquet")
    probe_dir = project / f"data/predictions/{s.name}/handcrafted/ridge"
    columns = [c for t in s.tasks for c in TASK_COLUMNS.get(t, [])]
    columns += [f"prob_{n}" for n in s.labels]
    for condition in conditions:
        frame = pd.read_parquet(probe_dir / f"{condition}.parquet")
        assert {"track_id", "split", "condition", *columns} <= set(frame.columns)
        assert set(frame["track_id"]) == set(manifest["track_id"].astype(str))
        assert frame[columns].notna().all().all()
        if "dynamic" in s.tasks:
            frames = pd.read_parquet(probe_dir / "dynamic" / f"{condition}.parquet")
            assert len(frames) and frames["pred_valence_norm"].notna().all()
    results = pd.read_csv(project / f"reports/{s.name}/systems/results.csv")
    assert (len(results) > 0) == s.systems, results
    assert (project / f"data/systems/{s.name}").is_dir()
    html = (project / f"reports/{s.name}/index.html").read_text()
    landing = (project / "reports/index.html").read_text()  # one link per dataset's report
    assert f'href="{s.name}/index.html"' in landing
    for task in s.tasks:
        assert REPORT_KEYS[task] in html, f"the report has no {task} metrics"
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["embed"]["encoders"] == ["handcrafted"]


def test_the_readme_encoder_switch_checks(tmp_path):
    """README's CSV example with ``embed.encoders: [musicnn]``: `emofx check` resolves the same."""
    s = SCENARIOS["csv"]
    project = tmp_path / "p"
    params = scenario_params(s, write_csv_dataset(tmp_path), project)
    params["embed"]["encoders"] = ["musicnn"]
    make_project(project, params)
    checked = " ".join(run(["emofx", "check"], project).stderr.split())
    assert "probe tasks: regression, quadrant, labels; systems: none" in checked
    params["embed"]["encoders"] = ["musicnn", "handcrafted"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    checked = " ".join(run(["emofx", "check"], project).stderr.split())
    assert "probe tasks: regression, quadrant, labels; systems: phase1" in checked
