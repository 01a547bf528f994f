"""Bad params.yaml → one clear line per problem naming the key, before any stage does work."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from emofx.config import ParamsError, load_params
from tests.pipeline_repo import REPO


def write(tmp_path, **changes):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.dataset.format == "deam" and params.embed.encoders


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"fx.effects": ["reverb", "reverbb"]}, "fx.effects.1: unknown effect 'reverbb'"),
        ({"fx.levels": [3, 11]}, "fx.levels.1: level 11 outside 1-10"),
        ({"synth.n_tracks": -5}, "synth.n_tracks: Input should be greater than 0"),
        ({"probe.bogus": 1}, "probe.bogus: unknown key"),
        ({"dataset.split": {"train": 0.9, "val": 0.2, "test": 0.1}}, "dataset.split: "),
        (
            {"embed.frames": {"enabled": False}, "probe.tasks": ["regression", "dynamic"]},
            "params.yaml: probe.tasks: 'dynamic' needs embed.frames.enabled: true",
        ),
        ({"embed.frames": {"hop_s": 0}}, "embed.frames.hop_s: Input should be greater than 0"),
    ],
)
def test_invalid_values_name_their_key(tmp_path, changes, expected):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, **changes))
    assert expected in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_a_missing_dataset_folder_is_reported_before_work_starts(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        **{"dataset.root": "no/such/folder", "embed.config_dir": str(REPO / "lightning_configs")},
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError, match=r"dataset.root: no/such/folder does not exist"):
        load_params(path, check_paths=True)


def test_the_cli_prints_one_error_line_and_exits_2(tmp_path):
    path = write(tmp_path, **{"fx.effects": ["reverbb"]})
    proc = subprocess.run(
        [sys.executable, "-m", "emofx.cli", "prepare", "--params", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("emofx: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"emofx: error: {path}: fx.effects.0: unknown effect 'reverbb'")
    assert "(known: reverb, delay, distortion" in errors[0]
    assert not (tmp_path / "data").exists()


# --- what the dataset's annotations can feed (issue #12) -----------------------------------------
EMOTIFY = {
    "dataset.format": "emotify",
    "dataset.name": "emotify",
    "dataset.root": "data/emotify",
    "systems.phase1.enabled": "auto",
    "probe.tasks": "auto",
}


def test_auto_tasks_and_systems_follow_the_dataset(tmp_path):
    deam = load_params(write(tmp_path, **{"probe.tasks": "auto"}))
    assert deam.probe.tasks == ["regression", "quadrant", "dynamic"]
    assert deam.systems.phase1.enabled is True
    no_frames = load_params(
        write(tmp_path, **{"probe.tasks": "auto", "embed.frames.enabled": False})
    )
    assert no_frames.probe.tasks == ["regression", "quadrant"]
    emotify = load_params(write(tmp_path, **EMOTIFY))
    assert emotify.probe.tasks == ["labels"]
    assert emotify.systems.phase1.enabled is False
    emopia = load_params(write(tmp_path, **{**EMOTIFY, "dataset.format": "emopia"}))
    assert emopia.probe.tasks == ["quadrant"] and emopia.systems.phase1.enabled is False


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {**EMOTIFY, "probe.tasks": ["regression", "labels"]},
            "params.yaml: probe.tasks: 'regression' needs valence and arousal annotations, which "
            "dataset.format 'emotify' does not have; set probe.tasks: auto (here: [labels])",
        ),
        (
            {**EMOTIFY, "probe.tasks": ["labels"], "systems.phase1.enabled": True},
            "params.yaml: systems.phase1.enabled: the systems predict valence_norm, arousal_norm, "
            "which dataset.format 'emotify' does not annotate; set systems.phase1.enabled: auto "
            "(or false)",
        ),
        (
            {"probe.tasks": ["regression", "labels"]},
            "params.yaml: probe.tasks: 'labels' needs per-track labels, which dataset.format "
            "'deam' does not have; set probe.tasks: auto (here: [regression, quadrant, dynamic])",
        ),
        (
            {**EMOTIFY, "dataset.format": "emopia", "probe.tasks": ["quadrant", "dynamic"]},
            "params.yaml: probe.tasks: 'dynamic' needs dynamic (2-Hz) annotations, which "
            "dataset.format 'emopia' does not have; set probe.tasks: auto (here: [quadrant])",
        ),
    ],
)
def test_tasks_and_systems_the_dataset_cannot_feed_are_refused(tmp_path, changes, expected):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, **changes))
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'params.yaml'}: {expected.split(': ', 1)[1]}"
    ]


def test_a_csv_dataset_offers_the_tasks_its_columns_feed(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "annotations.csv").write_text("filename,labels\na.wav,happy\n")
    csv = {"dataset.format": "csv", "dataset.name": "mine", "dataset.root": str(root)}
    params = load_params(write(tmp_path, **csv, **{"probe.tasks": "auto"}))
    assert params.probe.tasks == ["labels"] and params.systems.phase1.enabled is False
    (root / "annotations.csv").write_text("filename,valence,arousal\na.wav,0.1,0.2\n")
    params = load_params(write(tmp_path, **csv, **{"probe.tasks": "auto"}))
    assert params.probe.tasks == ["regression", "quadrant"] and params.systems.phase1.enabled


def test_emofx_check_refuses_before_any_work(tmp_path):
    path = write(tmp_path, **{**EMOTIFY, "probe.tasks": ["quadrant"]})
    proc = subprocess.run(
        [sys.executable, "-m", "emofx.cli", "check", "--params", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"emofx: error: {path}: probe.tasks: 'quadrant' needs valence and arousal (or quadrant) "
        "annotations, which dataset.format 'emotify' does not have; set probe.tasks: auto "
        "(here: [labels])"
    ]


def test_the_capability_table_matches_the_loaders():
    """datasets.config repeats a few loader constants (params validation must not import them)."""
    import inspect

    from emofx.datasets import DATASETS, deam, generic_csv, pmemo
    from emofx.datasets.config import CSV_DEFAULTS, CURVE_FILES, FORMAT_ANNOTATIONS

    assert set(FORMAT_ANNOTATIONS) == set(DATASETS)
    assert CURVE_FILES == {
        "deam": deam.DYNAMIC_DIR,
        "deam-dynamic": deam.DYNAMIC_DIR,
        "pmemo": pmemo.DYNAMIC_FILE,
    }
    signature = inspect.signature(generic_csv.load).parameters
    assert CSV_DEFAULTS == {name: signature[name].default for name in CSV_DEFAULTS}


def test_emofx_check_says_what_auto_resolved_to(tmp_path):
    root = tmp_path / "emotify"
    root.mkdir()
    path = write(tmp_path, **{**EMOTIFY, "dataset.root": str(root)})
    path.write_text(
        path.read_text().replace(
            "config_dir: lightning_configs", f"config_dir: {REPO}/lightning_configs"
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "emofx.cli", "check", "--params", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dataset emotify (format emotify): probe tasks: labels; systems: none" in " ".join(
        proc.stderr.split()
    )


def test_systems_need_the_store_of_their_encoder(tmp_path):
    """Phase 1 reads the handcrafted store: another encoder alone turns `auto` off, `true` fails."""
    switched = load_params(write(tmp_path, **{"embed.encoders": ["musicnn"]}))
    assert switched.systems.phase1.enabled is False
    both = load_params(write(tmp_path, **{"embed.encoders": ["musicnn", "handcrafted"]}))
    assert both.systems.phase1.enabled is True
    with pytest.raises(ParamsError) as err:
        load_params(
            write(tmp_path, **{"embed.encoders": ["musicnn"], "systems.phase1.enabled": True})
        )
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'params.yaml'}: systems.phase1.encoder: 'handcrafted' is not in "
        "embed.encoders [musicnn]; add it there or set systems.phase1.enabled: auto (or false)"
    ]
