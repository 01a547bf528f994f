"""Reliability under bad data: corrupted copies of the real datasets through the real CLI.

One corrupted copy per dataset format holds many corruptions at once (each on its own track);
``emofx prepare`` runs once per copy (all copies at once, each in its own tmp project) and every
variant is one parametrized assertion: the stage completes for the good items, the bad item has
its reason in ``rejected.csv`` (or ``warnings.csv`` for a kept item with a partial problem), no
traceback reaches stderr, and nothing is written outside the project.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time
import traceback
from pathlib import Path

import mido
import numpy as np
import pandas as pd
import psutil
import pytest
import yaml

from emofx.audio import write_audio
from emofx.datasets.emopia_render import DEFAULT_SOUNDFONTS
from tests.conftest import SHARED
from tests.pipeline_repo import BIN, REPO

SR = 22050  # the handcrafted encoder's rate: the only rate decoded
DEAM = SHARED / "data" / "deam-mini"
EMOPIA = SHARED / "data" / "emopia-mini" / "EMOPIA_1.0"
EMOTIFY = SHARED / "data" / "emotify-80"
STATIC = "annotations/annotations averaged per song/song_level"
DYNAMIC = "annotations/annotations averaged per song/dynamic (per second annotations)"
IS_ROOT = os.geteuid() == 0
CAPS = "-dac_override,-dac_read_search"

pytestmark = pytest.mark.skipif(
    not (DEAM.is_dir() and EMOPIA.is_dir() and EMOTIFY.is_dir()),
    reason=f"real test data not available under {SHARED / 'data'}",
)

# (format, item id, expected reason fragment, where: rejected | warnings | kept)
VARIANTS: list[tuple[str, str, str, str]] = [
    # DEAM audio files (song ids annotated in the real CSVs, audio added here)
    ("deam", "18", "digital silence (peak 0)", "rejected"),
    ("deam", "19", "stream ends early: the last", "warnings"),
    ("deam", "20", "zero-byte file", "rejected"),
    ("deam", "21", "unreadable audio", "rejected"),
    (
        "deam",
        "22",
        "symlink leads outside the dataset root: MEMD_audio/22.mp3 → /etc/passwd",
        "rejected",
    ),
    ("deam", "24", "symlink leads outside the dataset root: MEMD_audio/24.mp3", "rejected"),
    ("deam", "25", "dangling symlink: MEMD_audio/25.mp3", "rejected"),
    ("deam", "\\xff31", "file name is not valid UTF-8: \\xff31.mp3", "rejected"),
    ("deam", "32", "ambiguous audio: two files for id '32' (32.mp3, 32.wav)", "rejected"),
    ("deam", "35", "empty audio (0 frames)", "rejected"),
    ("deam", "37", "unresolvable path: MEMD_audio/37.mp3", "rejected"),
    ("deam", "39", "", "kept"),  # a symlink to a file inside the root is fine
    ("deam", "40", "permission denied: MEMD_audio/40.mp3", "rejected"),
    ("deam", "99999", "no annotation", "rejected"),
    # DEAM labels and curves
    ("deam", "3", "missing label: valence is empty", "rejected"),
    ("deam", "4", "bad label: valence=15 outside the DEAM scale 1–9", "rejected"),
    ("deam", "5", "bad label: arousal=inf is not finite", "rejected"),
    ("deam", "7", "bad label: valence='abc' is not a number", "rejected"),
    ("deam", "2.5", "bad song id: '2.5' is not an integer", "rejected"),
    ("deam", "13", "duplicate annotation: song 13 is annotated more than once", "rejected"),
    ("deam", "17", "missing label: arousal is empty", "rejected"),
    ("deam", "8", "bad dynamic valence value 'oops' at sample_15000ms is not a number", "warnings"),
    (
        "deam",
        "10",
        "bad dynamic arousal value '7.5' at sample_16000ms is outside [-1, 1]",
        "warnings",
    ),
    ("deam", "12", "missing dynamic curve: song 12 has valence but no arousal row", "warnings"),
    # EMOPIA
    ("emopia", "Q2_garbagemidi_0", "MIDI render failed", "rejected"),
    ("emopia", "Q2_emptymidi_0", "MIDI render failed", "rejected"),
    ("emopia", "Q3_silentmidi_0", "digital silence (peak 0)", "rejected"),
    ("emopia", "Q1_badquadrant_0", "bad label: 4Q '7' does not match clip", "rejected"),
    ("emopia", "Q1_mismatch_0", "bad label: 4Q '3' does not match clip", "rejected"),
    ("emopia", "Qx_notanid", "bad clip id: 'Qx_notanid' is not Q<1-4>_<song id>_<n>", "rejected"),
    ("emopia", "Q4_twice_0", "duplicate label: clip 'Q4_twice_0' is labelled on lines", "rejected"),
    (
        "emopia",
        "Q1_escapes_0",
        "symlink leads outside the dataset root: midis/Q1_escapes_0.mid",
        "rejected",
    ),
    ("emopia", "Q1_unlabelled_0", "no annotation", "rejected"),
    ("emopia", "Q2_nomidi_0", "missing MIDI", "rejected"),
    # generic CSV
    ("csv", "x", "path escapes the dataset root: ../../outside/x.mp3", "rejected"),
    ("csv", "abs", "path escapes the dataset root: /", "rejected"),
    ("csv", "7", "duplicate track id: '7' is also on line", "rejected"),
    ("csv", "8", "bad label: valence=15 outside the scale 1–9", "rejected"),
    ("csv", "10", "bad label: arousal='abc' is not a rating", "rejected"),
    ("csv", "12", "missing label: no value in", "rejected"),
    ("csv", "gone", "missing audio", "rejected"),
    ("csv", "Q1_keeps", "", "kept"),  # the id is the file name, not its folders
    # Emotify and PMEmo
    ("emotify", "jazz/1", "unknown genre folder: 'jazz' is not an Emotify genre", "rejected"),
    ("emotify", "loose", "no genre folder: emotifymusic/loose.mp3", "rejected"),
    ("pmemo", "3", "no annotation: chorus/3.mp3 is listed neither", "rejected"),
    ("pmemo", "4", "bad label: valence=1.5 outside the PMEmo scale 0–1", "rejected"),
    ("pmemo", "5", "missing label: arousal is empty", "rejected"),
]
GOOD = {  # items that must be kept in each copy
    "deam": {"2", "8", "10", "12", "19", "39"},
    "emopia": {"Q1_QwsQ8ejbMKg_0", "Q1_UYh88SRZC24_0"},
    "csv": {"2", "Q1_keeps"},
    "emotify": {"1", "2"},
    "pmemo": {"1", "2"},
}


def _mp3(n: int = 2) -> Path:
    return DEAM / "MEMD_audio" / f"{n}.mp3"


def _edit_csv(path: Path, edit) -> None:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows = edit(rows)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _set_cell(rows: list[list[str]], song: str, column: int, value: str) -> list[list[str]]:
    for row in rows:
        if row[0].strip() == song:
            row[column] = value
    return rows


def build_deam(root: Path, outside: Path) -> None:
    shutil.copytree(DEAM, root)
    audio = root / "MEMD_audio"
    write_audio(audio / "18.wav", np.zeros(2 * SR, np.float32), SR)
    (audio / "19.mp3").write_bytes(_mp3().read_bytes()[:40_000])  # ~2 s of 45 s
    (audio / "20.mp3").write_bytes(b"")
    (audio / "21.mp3").write_bytes(b"not an mp3 at all" * 100)
    (audio / "22.mp3").symlink_to("/etc/passwd")
    (audio / "24.mp3").symlink_to(outside / "x.mp3")
    (audio / "25.mp3").symlink_to(root / "nowhere.mp3")
    with open(os.fsencode(audio) + b"/\xff31.mp3", "wb") as f:
        f.write(_mp3().read_bytes())
    shutil.copy(_mp3(), audio / "32.mp3")
    write_audio(audio / "32.wav", np.full(SR, 0.1, np.float32), SR)
    write_audio(audio / "35.wav", np.zeros(0, np.float32), SR)  # a header, no samples
    (audio / "37.mp3").symlink_to(audio / "37.mp3")  # a loop
    (audio / "39.mp3").symlink_to(audio / "2.mp3")
    shutil.copy(_mp3(), audio / "40.mp3")
    (audio / "40.mp3").chmod(0)
    shutil.copy(_mp3(), audio / "99999.mp3")

    static = root / STATIC / "static_annotations_averaged_songs_1_2000.csv"
    _edit_csv(static, lambda r: _set_cell(r, "3", 1, ""))
    _edit_csv(static, lambda r: _set_cell(r, "4", 1, "15"))
    _edit_csv(static, lambda r: _set_cell(r, "5", 3, "inf"))
    _edit_csv(static, lambda r: _set_cell(r, "7", 1, "abc"))
    _edit_csv(static, lambda r: _set_cell(r, "17", 3, "NaN"))
    _edit_csv(static, lambda r: [*r, ["2.5", "5", "1", "5", "1"]])
    later = root / STATIC / "static_annotations_averaged_songs_2000_2058.csv"
    _edit_csv(later, lambda r: [*r, ["13"] + ["5"] * (len(r[0]) - 1)])
    _edit_csv(root / DYNAMIC / "valence.csv", lambda r: _set_cell(r, "8", 1, "oops"))
    _edit_csv(root / DYNAMIC / "arousal.csv", lambda r: _set_cell(r, "10", 3, "7.5"))
    _edit_csv(root / DYNAMIC / "arousal.csv", lambda r: [row for row in r if row[0] != "12"])


def build_emopia(root: Path, outside: Path) -> None:
    (root / "midis").mkdir(parents=True)
    good = sorted(GOOD["emopia"])
    for clip in good:
        shutil.copy(EMOPIA / "midis" / f"{clip}.mid", root / "midis")
    real = EMOPIA / "midis" / f"{good[0]}.mid"
    (root / "midis" / "Q2_garbagemidi_0.mid").write_bytes(b"not a midi" * 50)
    (root / "midis" / "Q2_emptymidi_0.mid").write_bytes(b"")
    silent = mido.MidiFile(ticks_per_beat=480)
    silent.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=960)]))
    silent.save(root / "midis" / "Q3_silentmidi_0.mid")
    for clip in ("Q1_badquadrant_0", "Q1_mismatch_0", "Q4_twice_0", "Q1_unlabelled_0"):
        shutil.copy(real, root / "midis" / f"{clip}.mid")
    shutil.copy(real, outside / "escapes.mid")
    (root / "midis" / "Q1_escapes_0.mid").symlink_to(outside / "escapes.mid")
    lines = ["ID,4Q,annotator", *(f"{c},1,D" for c in good)]
    lines += [
        "Q2_garbagemidi_0,2,D",
        "Q2_emptymidi_0,2,D",
        "Q3_silentmidi_0,3,D",
        "Q1_badquadrant_0,7,D",
        "Q1_mismatch_0,3,D",
        "Qx_notanid,1,D",
        "Q4_twice_0,4,D",
        "Q4_twice_0,4,D",
        "Q1_escapes_0,1,D",
        "Q2_nomidi_0,2,D",
    ]
    (root / "label.csv").write_text("\n".join(lines) + "\n")


def build_csv(root: Path, outside: Path) -> None:
    deep = root / "emopia" / "EMOPIA_2.2" / "wav"
    deep.mkdir(parents=True)
    shutil.copy(_mp3(3), deep / "Q1_keeps.mp3")
    for folder in ("a", "b"):
        (root / folder).mkdir()
        shutil.copy(_mp3(7), root / folder / "7.mp3")
    for n in (2, 8, 10, 12):
        shutil.copy(_mp3(n), root / f"{n}.mp3")
    (root / "annotations.csv").write_text(
        "filename,valence,arousal\n"
        "2.mp3,5,5\n"
        "emopia/EMOPIA_2.2/wav/Q1_keeps.mp3,6,6\n"
        "../../outside/x.mp3,5,5\n"
        f"{outside / 'abs.mp3'},5,5\n"
        "a/7.mp3,5,5\n"
        "b/7.mp3,5,5\n"
        "8.mp3,15,5\n"
        "10.mp3,5,abc\n"
        "12.mp3,,\n"
        "gone.mp3,5,5\n"
    )


def build_emotify(root: Path, outside: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(EMOTIFY / "data.csv", root / "data.csv")
    for genre, n in (("classical", 1), ("classical", 2), ("jazz", 1)):
        (root / "emotifymusic" / genre).mkdir(parents=True, exist_ok=True)
        shutil.copy(
            EMOTIFY / "emotifymusic" / "classical" / f"{n}.mp3", root / "emotifymusic" / genre
        )
    shutil.copy(
        EMOTIFY / "emotifymusic" / "classical" / "3.mp3", root / "emotifymusic" / "loose.mp3"
    )


def build_pmemo(root: Path, outside: Path) -> None:
    (root / "chorus").mkdir(parents=True)
    (root / "annotations").mkdir()
    for music_id, song in ((1, 2), (2, 3), (3, 4), (4, 5), (5, 7)):
        shutil.copy(_mp3(song), root / "chorus" / f"{music_id}.mp3")
    (root / "metadata.csv").write_text(
        "musicId,fileName,title,artist\n1,1.mp3,a,X\n2,2.mp3,b,Y\n4,4.mp3,d,Z\n5,5.mp3,e,W\n"
    )
    (root / "annotations" / "static_annotations.csv").write_text(
        "musicId,Arousal(mean),Valence(mean)\n1,0.8,0.3\n2,0.2,0.6\n4,0.5,1.5\n5,,0.5\n"
    )


BUILDERS = {
    "deam": (build_deam, "deam", {}),
    "emopia": (build_emopia, "emopia", {"sample_rate": SR, "workers": 2}),
    "csv": (build_csv, "csv", {"scale": [1, 9]}),
    "emotify": (build_emotify, "emotify", {}),
    "pmemo": (build_pmemo, "pmemo", {}),
}


def snapshot(folder: Path) -> dict[bytes, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime (links not followed)."""
    found = {}
    for path, dirs, files in os.walk(os.fsencode(folder)):
        for name in dirs + files:
            st = os.lstat(os.path.join(path, name))
            found[os.path.join(path, name)] = (st.st_size, st.st_mtime_ns)
    return found


def project(base: Path, name: str, fmt: str, root: Path, options: dict, **dataset) -> Path:
    folder = base / "projects" / name
    (folder / "data").mkdir(parents=True)
    shutil.copytree(REPO / "lightning_configs", folder / "lightning_configs")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["embed"]["encoders"] = ["handcrafted"]
    params["dataset"].update(
        {
            "name": name,
            "format": fmt,
            "root": str(root),
            "options": options,
            "clip_seconds": 1.0,
            "min_seconds": 0.0,
            "max_rejected_fraction": 1.0,
            "workers": 2,
            "split": {"train": 0.5, "val": 0.0, "test": 0.5},
            **dataset,
        }
    )
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rates = {"rates": [SR], "encoders": {"handcrafted": SR}}
    (folder / "data" / "sample_rates.json").write_text(json.dumps(rates))
    return folder


#: root reads any file: drop the capabilities that let it, so an unreadable file is one for it too
AS_USER = (
    ["setpriv", f"--bounding-set={CAPS}", f"--inh-caps={CAPS}"]
    if IS_ROOT and shutil.which("setpriv")
    else []
)


def start_prepare(folder: Path, store: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    return subprocess.Popen(
        [*AS_USER, str(BIN / "emofx"), "prepare"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: copies run through the real CLI (in parallel); the others through ``prepare()`` meanwhile, in
#: this process (each CLI start costs seconds of imports and MLflow; those loaders add no CLI path)
CLI_RUNS = ("deam", "emopia")


def prepare_in_process(folder: Path) -> tuple[int, str]:
    """``prepare()`` as ``emofx prepare`` calls it, stderr captured; (exit code, stderr)."""
    from emofx.config import load_params
    from emofx.prepare import prepare

    params = load_params(folder / "params.yaml")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            prepare(
                params.dataset,
                folder / "data" / "prepared" / params.dataset.name,
                [SR],
                params.seed,
                cache_dir=folder / "data" / "cache",
            )
        except Exception:
            traceback.print_exc()
            return 1, stderr.getvalue()
    return 0, stderr.getvalue()


@pytest.fixture(scope="module")
def store_template(tmp_path_factory) -> Path:
    """A migrated sqlite MLflow store: a copy spares each CLI run the schema migration."""
    from mlflow.tracking import MlflowClient

    store = tmp_path_factory.mktemp("mlflow") / "template.db"
    MlflowClient(f"sqlite:///{store}").search_experiments()
    return store


def fresh_store(template: Path, path: Path) -> Path:
    shutil.copy(template, path)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, store_template) -> dict[str, dict]:
    has_renderer = shutil.which("fluidsynth") and any(p.is_file() for p in DEFAULT_SOUNDFONTS)
    base = tmp_path_factory.mktemp("bad-inputs")
    outside = base / "outside"
    outside.mkdir()
    shutil.copy(_mp3(), outside / "x.mp3")
    shutil.copy(_mp3(), outside / "abs.mp3")
    folders = {}
    for name, (build, fmt, options) in BUILDERS.items():
        if name == "emopia" and not has_renderer:
            continue
        root = base / "datasets" / name
        build(root, outside)
        folders[name] = project(base, name, fmt, root, options)
    projects = os.fsencode(base / "projects")
    before = {p: s for p, s in snapshot(base).items() if not p.startswith(projects)}
    procs = {
        name: start_prepare(
            folders[name], fresh_store(store_template, base / "projects" / f"{name}.db")
        )
        for name in CLI_RUNS
        if name in folders
    }
    done = {name: prepare_in_process(folders[name]) for name in folders if name not in procs}
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        done[name] = (proc.returncode, stderr)
    results = {}
    for name, (returncode, stderr) in done.items():
        out = folders[name] / "data" / "prepared" / name
        manifest = out / "manifest.parquet"
        results[name] = {
            "returncode": returncode,
            "stderr": stderr,
            "rejected": _read(out / "rejected.csv"),
            "warnings": _read(out / "warnings.csv"),
            "kept": set(pd.read_parquet(manifest)["track_id"]) if manifest.is_file() else set(),
        }
    after = {p: s for p, s in snapshot(base).items() if not p.startswith(projects)}
    results["outside-writes"] = sorted(set(after.items()) ^ set(before.items()))
    results["deam-root"] = base / "datasets" / "deam"
    print_table(results)
    return results


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=["item_id", "path", "reason"])
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def print_table(results: dict) -> None:
    """kind → behaviour with counts (pytest -s shows it; the closing note quotes it)."""
    counts: dict[tuple[str, str], int] = {}
    for name, result in results.items():
        if name in ("outside-writes", "deam-root"):
            continue
        for where in ("rejected", "warnings"):
            for reason in result[where]["reason"]:
                kind = reason.split(":")[0].split(" (")[0]
                counts[(kind, where)] = counts.get((kind, where), 0) + 1
    for (kind, where), n in sorted(counts.items()):
        print(f"{kind:45s} {where:9s} {n:5d}")


@pytest.mark.parametrize("name", list(BUILDERS))
def test_the_stage_completes_without_a_traceback_and_keeps_the_good_items(runs, name):
    if name not in runs:
        pytest.skip("fluidsynth or a GM soundfont is not installed")
    result = runs[name]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    assert "Traceback" not in result["stderr"]
    assert GOOD[name] <= result["kept"], result["stderr"][-3000:]


def test_nothing_is_written_outside_the_projects(runs):
    assert runs["outside-writes"] == []


@pytest.mark.parametrize(
    ("fmt", "item", "reason", "where"), VARIANTS, ids=[f"{v[0]}-{v[1]}" for v in VARIANTS]
)
def test_each_bad_item_is_reported_with_its_reason(runs, fmt, item, reason, where):
    if fmt not in runs:
        pytest.skip("fluidsynth or a GM soundfont is not installed")
    if "permission denied" in reason and (IS_ROOT and not AS_USER or fmt not in CLI_RUNS):
        pytest.skip("root reads files without read permission (setpriv not available)")
    result = runs[fmt]
    if where == "kept":
        assert item in result["kept"]
        return
    table = result[where]
    reasons = table.loc[table["item_id"] == item, "reason"].tolist()
    assert reasons and reason in reasons[0], (item, table.tail(40).to_string())
    assert item not in result["kept"] or where == "warnings"


def test_a_killed_prepare_leaves_no_decode_worker_behind(tmp_path, store_template):
    """``kill -9`` of ``emofx prepare`` mid-decode: its decode workers die with it."""
    folder = project(tmp_path, "killed", "deam", DEAM, {}, clip_seconds=None)
    proc = start_prepare(folder, fresh_store(store_template, tmp_path / "mlflow.db"))
    parent = psutil.Process(proc.pid)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = parent.children(recursive=True)
        time.sleep(0.02)
    assert len(workers) >= 2, "prepare ended before its decode workers were seen"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == [], f"decode workers outlived prepare: {alive}"


def test_the_dynamic_task_rejects_the_songs_whose_curves_are_bad(runs):
    from emofx.datasets import load_dataset

    result = load_dataset("deam-dynamic", runs["deam-root"])
    reasons = {r.item_id: r.reason for r in result.rejected}
    assert reasons["8"].startswith("bad dynamic valence value 'oops' at sample_15000ms")
    assert reasons["10"].startswith("bad dynamic arousal value '7.5' at sample_16000ms")
    assert reasons["12"] == "missing dynamic curve: song 12 has valence but no arousal row"
    assert {"2", "3", "4"} <= set(result.manifest["track_id"])  # static labels do not matter here


def test_a_symlinked_audio_folder_outside_the_root_is_rejected_file_by_file(tmp_path):
    from emofx.datasets import load_dataset
    from tests.test_datasets_deam import write_deam_layout

    elsewhere = write_deam_layout(tmp_path / "elsewhere", {2: (3.0, 7.0)}, [2, 3])
    root = write_deam_layout(tmp_path / "deam", {2: (3.0, 7.0), 3: (6.0, 6.0)}, [])
    (root / "MEMD_audio").rmdir()
    (root / "MEMD_audio").symlink_to(elsewhere / "MEMD_audio")
    result = load_dataset("deam", root)
    assert result.manifest.empty
    assert {r.item_id: r.reason for r in result.rejected} == {
        "2": f"symlink leads outside the dataset root: MEMD_audio/2.wav → "
        f"{elsewhere / 'MEMD_audio' / '2.wav'}",
        "3": f"symlink leads outside the dataset root: MEMD_audio/3.wav → "
        f"{elsewhere / 'MEMD_audio' / '3.wav'}",
    }


def test_links_into_the_dvc_cache_of_the_enclosing_repository_are_allowed(tmp_path):
    """DVC's ``symlink`` cache type links every tracked file into ``.dvc/cache``."""
    from emofx.datasets import load_dataset
    from tests.test_datasets_deam import write_deam_layout

    repo = tmp_path / "project"
    cached = write_deam_layout(repo / ".dvc" / "cache" / "files", {2: (3.0, 7.0)}, [2])
    root = write_deam_layout(repo / "data" / "raw" / "deam", {2: (3.0, 7.0)}, [])
    (root / "MEMD_audio" / "2.wav").symlink_to(cached / "MEMD_audio" / "2.wav")
    result = load_dataset("deam", root)
    assert result.manifest["track_id"].tolist() == ["2"] and result.rejected == []


def test_the_dataset_hash_skips_what_the_loaders_refuse(tmp_path):
    from emofx.data_versioning import dataset_hash

    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_text("a")
    clean = dataset_hash(root)
    (root / "dangling.mp3").symlink_to(root / "nowhere.mp3")
    (root / "passwd.mp3").symlink_to("/etc/passwd")
    with open(os.fsencode(root) + b"/\xff.mp3", "wb") as f:
        f.write(b"x")
    assert dataset_hash(root) == clean
    (root / "b.txt").write_text("b")
    assert dataset_hash(root) != clean
