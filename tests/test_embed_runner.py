"""Extraction into the embedding store: contents, skipping, resume after SIGKILL, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from emofx.embed.runner import EncoderConfig, embed_dataset, encoder_sample_rate
from emofx.embed.store import EmbeddingStore
from emofx.encoders.handcrafted import HandcraftedEncoder, handcrafted_features
from emofx.fx.conditions import resolve_condition
from emofx.fx.render import render
from emofx.prepare import load_prepared_audio, prepared_audio_path
from tests.embed_fixtures import CONDITION_IDS, SR, make_prepared, write_encoder_config
from tests.pipeline_repo import REPO
from tests.tiny_models import write_tiny_encoder_configs


@pytest.fixture()
def prepared(tmp_path):
    manifest = make_prepared(tmp_path / "prepared")
    manifest.to_parquet(tmp_path / "manifest.parquet")
    return tmp_path, manifest


def run_embed(tmp_path, manifest, out, condition_ids=CONDITION_IDS, **data):
    config = EncoderConfig.from_yaml(write_encoder_config(tmp_path / "enc.yaml", **data))
    conditions = [resolve_condition(c) for c in condition_ids]
    return embed_dataset(
        config,
        manifest,
        tmp_path / "prepared",
        conditions,
        out,
        seed=7,
        data_hash="fixture",
        progress=False,
    )


def test_store_holds_the_encoder_output_of_every_rendered_pair(prepared):
    tmp_path, manifest = prepared
    result = run_embed(tmp_path, manifest, tmp_path / "store")
    store = EmbeddingStore(tmp_path / "store")
    assert not result.skipped and result.n_pairs == 6 * len(CONDITION_IDS)
    assert store.conditions() == list(CONDITION_IDS)
    assert store.index()["track_id"].tolist() == manifest["track_id"].tolist()
    for cid in ("clean", "distortion@5"):
        audio = load_prepared_audio(tmp_path / "prepared", SR, "t04")
        expected = handcrafted_features(render(resolve_condition(cid), audio, SR).audio, SR)
        np.testing.assert_allclose(store.load(cid, "features")[4], expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(store.load("clean"), store.load("distortion@5"))
    loud = store.loudness().set_index(["track_id", "condition"])
    change = loud["lufs_out"] - loud["lufs_in"]
    assert change.xs("gain@8", level="condition").min() > 10  # level 8 of gain is a big boost
    assert change.xs("reverb@3+lufs", level="condition").abs().max() < 0.5  # matched twin
    assert store.meta()["layer_dims"] == [386] and not store.partial_dir.exists()


def test_unchanged_inputs_are_skipped_and_changed_inputs_recomputed(prepared):
    tmp_path, manifest = prepared
    run_embed(tmp_path, manifest, tmp_path / "store")
    assert run_embed(tmp_path, manifest, tmp_path / "store").skipped
    assert not run_embed(tmp_path, manifest.iloc[:4], tmp_path / "store").skipped
    assert np.load(tmp_path / "store" / "clean.npy").shape[0] == 4


@pytest.fixture(scope="module")
def tiny_configs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-encoders")
    return write_tiny_encoder_configs(root / "checkpoints", root / "configs")


def test_every_config_names_the_rate_its_built_encoder_uses(tiny_configs, monkeypatch):
    """prepare decodes at encoder_sample_rate(config); embed reads audio at the built rate."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # Qwen2-Audio decoder configs
    assert set(tiny_configs) >= {
        "handcrafted", "logmel", "musicnn", "panns", "mert", "mert330", "clap", "qwen2_audio"
    }  # fmt: skip
    rates = {name: encoder_sample_rate(path) for name, path in tiny_configs.items()}
    built = {
        n: EncoderConfig.from_yaml(p).build_encoder().sample_rate for n, p in tiny_configs.items()
    }
    assert rates == built
    assert encoder_sample_rate(EncoderConfig.from_yaml(tiny_configs["mert"])) == 24_000
    assert rates["mert"] == rates["mert330"] == 24_000  # set by the checkpoint, not the class
    assert rates["clap"] == 48_000 and rates["qwen2_audio"] == 16_000


class MisreportedRate(HandcraftedEncoder):
    """Announces 16 kHz to prepare but builds at 22.05 kHz (an encoder with a rate bug)."""

    @classmethod
    def config_sample_rate(cls, init_args) -> int:
        return 16_000


def test_an_encoder_whose_rate_differs_from_the_prepared_rate_is_refused(prepared):
    tmp_path, manifest = prepared
    path = write_encoder_config(tmp_path / "enc.yaml")
    text = path.read_text().replace("handcrafted.HandcraftedEncoder", "x")
    path.write_text(text.replace("emofx.encoders.x", "tests.test_embed_runner.MisreportedRate"))
    with pytest.raises(ValueError, match=r"works at 22050 Hz but its config announces 16000 Hz"):
        embed_dataset(
            EncoderConfig.from_yaml(path),
            manifest,
            tmp_path / "prepared",
            [resolve_condition("clean")],
            tmp_path / "store",
            seed=7,
            data_hash="fixture",
            progress=False,
        )


def test_conditions_that_cannot_render_at_the_rate_are_skipped_and_recorded(prepared, capsys):
    tmp_path, manifest = prepared
    for track in manifest["track_id"]:  # the same arrays, declared 16-kHz audio
        audio = load_prepared_audio(tmp_path / "prepared", SR, track)
        path = prepared_audio_path(tmp_path / "prepared", 16_000, track)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, audio)
    path = write_encoder_config(tmp_path / "enc.yaml")
    path.write_text(path.read_text().replace(f"sample_rate: {SR}", "sample_rate: 16000"))
    result = embed_dataset(
        EncoderConfig.from_yaml(path),
        manifest,
        tmp_path / "prepared",
        [resolve_condition(c) for c in ("clean", "eq@9", "gain@8", "eq@10")],
        tmp_path / "store",
        seed=7,
        data_hash="fixture",
        progress=False,
    )
    store = EmbeddingStore(tmp_path / "store")
    assert store.conditions() == ["clean", "gain@8"]
    skipped = store.meta()["skipped_conditions"]
    assert sorted(skipped) == ["eq@10", "eq@9"]
    assert all(reason.startswith(f"{cid} at 16000 Hz") for cid, reason in skipped.items())
    assert not (tmp_path / "store" / "eq@9.npy").exists()
    assert store.load("gain@8").shape == (6, 1, 386)
    err = capsys.readouterr().err
    assert "skipping condition eq@9" in err and "skipping condition eq@10" in err
    assert result.n_pairs == 6 * 4 and not result.skipped


def job(tmp_path, out, *extra):
    cmd = [
        sys.executable,
        "-m",
        "tests.embed_job",
        str(tmp_path / "enc.yaml"),
        str(tmp_path / "prepared"),
        str(tmp_path / "manifest.parquet"),
        str(out),
        *extra,
    ]
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_sigkill_midway_then_rerun_resumes_and_matches_an_uninterrupted_run(prepared):
    tmp_path, manifest = prepared
    write_encoder_config(tmp_path / "enc.yaml")
    reference = tmp_path / "reference"
    assert job(tmp_path, reference).wait(timeout=180) == 0

    killed = tmp_path / "killed"
    proc = job(tmp_path, killed, "--slow")
    store = EmbeddingStore(killed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (store.partial_dir.exists() and store.done_shards()):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = store.done_shards()
    assert done_before and len(done_before) < 3, "the kill must land between shards"
    assert not (killed / "meta.json").exists()

    assert job(tmp_path, killed).wait(timeout=180) == 0
    for cid in CONDITION_IDS:
        assert np.array_equal(np.load(killed / f"{cid}.npy"), np.load(reference / f"{cid}.npy")), (
            cid
        )


@pytest.mark.slow
def test_ddp_over_two_cpu_processes_gives_the_same_store(prepared):
    tmp_path, manifest = prepared
    write_encoder_config(tmp_path / "enc.yaml")
    assert job(tmp_path, tmp_path / "one").wait(timeout=180) == 0
    write_encoder_config(
        tmp_path / "enc.yaml", trainer={"devices": 2, "strategy": "ddp", "num_nodes": 1}
    )
    proc = job(tmp_path, tmp_path / "two")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    for cid in CONDITION_IDS:
        assert np.array_equal(
            np.load(tmp_path / "one" / f"{cid}.npy"), np.load(tmp_path / "two" / f"{cid}.npy")
        )
