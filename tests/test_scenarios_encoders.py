"""Every encoder through the whole pipeline: one real `dvc repro` in a throw-away git repo.

The shipped ``lightning_configs/embed.<name>.yaml`` files (plus ``mert330``, a MERT-v1-330M-style
checkpoint) are pointed at tiny random checkpoints written in the official on-disk formats, and
Musicnn at the real weights in /work/shared/weights. The corpus is tiny (24 three-second tracks)
and the FX grid holds ``eq@9``, whose band closes above 8 kHz: it cannot render at 16 kHz, so the
16-kHz encoders (Musicnn, Qwen2-Audio) skip it while the others embed it, and the probe and
analysis stages must cope with a condition missing for some encoders. Qwen2-Audio comes first, so
the audition excerpts (rendered at the first encoder's rate) are made at 16 kHz too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emofx.embed.store import EmbeddingStore
from tests.pipeline_repo import make_project, repro, run, tiny_params
from tests.tiny_models import write_tiny_encoder_configs

pytestmark = pytest.mark.slow

MUSICNN_WEIGHTS = Path("/work/shared/weights/musicnn_mtg_jamendo.pth")
N_TRACKS = 24
# name → (working rate, number of stored layers) of the tiny checkpoints (Musicnn: real weights)
ENCODERS = {
    "qwen2_audio": (16_000, 4),  # first: the audition excerpts are rendered at its rate (16 kHz)
    "handcrafted": (22_050, 1),
    "logmel": (22_050, 1),
    "musicnn": (16_000, 4),
    "panns": (32_000, 7),
    "mert": (24_000, 3),  # tiny 95M-style: 2 transformer layers + the input state
    "mert330": (24_000, 4),  # tiny 330M-style: 3 transformer layers + the input state
    "clap": (48_000, 7),
}
CONDITIONS = ["clean", "gain@9", "eq@9"]
UNRENDERABLE_AT_16K = "eq@9"


def encoders_here() -> list[str]:
    return [n for n in ENCODERS if n != "musicnn" or MUSICNN_WEIGHTS.is_file()]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("scenario-encoders")
    params = tiny_params(
        **{
            "synth.n_tracks": N_TRACKS,
            "synth.clip_seconds": 3.0,
            "dataset.clip_seconds": 3.0,
            "dataset.split": {"train": 0.5, "val": 0.25, "test": 0.25},
            "fx.effects": ["gain", "eq"],
            "fx.levels": [9],
            "fx.loudness_match": False,
            "embed.encoders": encoders_here(),
            "embed.frames.enabled": False,
            "probe.probes": ["ridge"],
            "probe.tasks": ["regression"],
            "systems.phase1.enabled": False,
            "analysis.n_bootstrap": 100,
        }
    )
    root = make_project(tmp / "proj", params)
    musicnn = MUSICNN_WEIGHTS if MUSICNN_WEIGHTS.is_file() else None
    write_tiny_encoder_configs(tmp / "checkpoints", root / "lightning_configs", musicnn)
    run(["git", "add", "lightning_configs"], root)
    run(["git", "commit", "-qm", "encoder configs on tiny checkpoints"], root)
    started = time.perf_counter()
    ran, out = repro(root)
    seconds = time.perf_counter() - started
    print(f"\nall-encoder dvc repro: {seconds:.0f} s for {len(encoders_here())} encoders")
    assert {f"embed@{name}" for name in encoders_here()} <= set(ran), out
    assert {"rates", "prepare", "probe", "analyze"} <= set(ran), out
    return root


@pytest.mark.parametrize("name", list(ENCODERS))
def test_every_encoder_runs_through_the_whole_pipeline(project, name):
    if name not in encoders_here():
        pytest.skip(f"real Musicnn weights not found at {MUSICNN_WEIGHTS}")
    root = project
    rate, n_layers = ENCODERS[name]
    store = EmbeddingStore(root / "data/embeddings/synth" / name)
    meta = store.meta()
    assert meta["sample_rate"] == rate and len(meta["layer_names"]) == n_layers
    expected = [c for c in CONDITIONS if not (rate == 16_000 and c == UNRENDERABLE_AT_16K)]
    assert store.conditions() == expected
    if rate == 16_000:
        assert list(meta["skipped_conditions"]) == [UNRENDERABLE_AT_16K]
    else:
        assert meta["skipped_conditions"] == {}
    for condition in expected:
        embeddings = store.load(condition)
        assert embeddings.shape == (N_TRACKS, n_layers, max(meta["layer_dims"]))
        assert np.isfinite(embeddings).all() and np.abs(embeddings).sum() > 0
        predictions = pd.read_parquet(
            root / "data/predictions/synth" / name / "ridge" / f"{condition}.parquet"
        )
        assert len(predictions) == N_TRACKS and predictions["condition"].eq(condition).all()
    # an audible change moves the embedding: the EQ where it renders (MERT normalises each window
    # to zero mean and unit variance, as its feature extractor does, so a pure gain is invisible)
    changed = "gain@9" if rate == 16_000 else "eq@9"
    assert not np.allclose(store.load("clean"), store.load(changed))
    assert name in (root / "reports/synth/index.html").read_text()
    assert name in json.dumps(json.loads((root / "reports/synth/metrics.json").read_text()))


def test_mert_330m_style_store_has_the_330m_depth(project):
    root = project
    meta = EmbeddingStore(root / "data/embeddings/synth/mert330").meta()
    config = json.loads(Path(meta["model"], "config.json").read_text())
    assert config["do_stable_layer_norm"] and config["feat_extract_norm"] == "group"
    assert len(meta["layer_names"]) == config["num_hidden_layers"] + 1 == 4
    assert len(EmbeddingStore(root / "data/embeddings/synth/mert").meta()["layer_names"]) == 3


def test_prepare_decodes_every_encoders_rate_in_one_run(project):
    """Encoders at 16, 22.05, 24, 32 and 48 kHz in one run: one prepared copy per rate."""
    root = project
    rates = sorted({ENCODERS[name][0] for name in encoders_here()})
    resolved = json.loads((root / "data/sample_rates.json").read_text())
    assert resolved["rates"] == rates
    for rate in rates:
        files = sorted((root / "data/prepared/synth/audio" / str(rate)).glob("*.npy"))
        assert len(files) == N_TRACKS
        assert np.load(files[0]).shape == (3 * rate,)
