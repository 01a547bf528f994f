"""Musicnn: architecture vs a reference forward, strict loading, weight lookup, real-weight tags."""

from __future__ import annotations

import hashlib
import time
import urllib.error
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from jsonargparse import ArgumentParser

from emofx.audio import load_audio
from emofx.encoders import weights
from emofx.encoders.base import Encoder
from emofx.encoders.musicnn import Musicnn, MusicnnEncoder
from emofx.encoders.musicnn_tags import MTAT_TAGS, MTG_JAMENDO_TAGS
from emofx.tagging import tag_audio, tag_command
from tests.tiny_models import musicnn_state_dict as random_state_dict

SHARED = Path(__file__).resolve().parents[2] / "shared"
REPO = Path(__file__).resolve().parents[1]
MUSIC = SHARED / "data" / "music-cc"
BRAHMS = MUSIC / "brahms_hungarian_dance_5.ogg"
VIBE_ACE = MUSIC / "Kevin_MacLeod_-_Vibe_Ace.ogg"
SR = 16_000
REAL_DOWNLOAD = torch.hub.download_url_to_file  # before any test patches it


def real_weights_dir() -> Path:
    if not (SHARED / "weights" / "musicnn_mtg_jamendo.pth").is_file():
        pytest.skip(f"real Musicnn weights not available under {SHARED / 'weights'}")
    return SHARED / "weights"


def real_audio(path: Path) -> torch.Tensor:
    if not path.is_file():
        pytest.skip(f"real test audio not available: {path}")
    return torch.from_numpy(load_audio(path, SR))


def instantiate_model_config(config: Path, **init_overrides) -> Encoder:
    """``model:`` of a LightningCLI YAML, parsed and instantiated with jsonargparse."""
    model = yaml.safe_load(config.read_text())["model"]
    model["init_args"].update(init_overrides)
    parser = ArgumentParser()
    parser.add_subclass_arguments(Encoder, "model")
    return parser.instantiate(parser.parse_object({"model": model})).model


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """Tests never touch the network or the user's cache or weights directory."""

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """Random weights saved the way upstream saved them: a plain state dict, legacy format."""
    state = random_state_dict()
    path = tmp_path_factory.mktemp("musicnn") / "musicnn_mtg_jamendo.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path, state


def reference_forward(state: dict[str, torch.Tensor], audio: np.ndarray) -> dict[str, torch.Tensor]:
    """Upstream Musicnn written out functionally from the state dict (librosa STFT, BN + ReLU
    before the frequency max-pool) — independent of the module code under test."""

    def bn(x, name):
        return F.batch_norm(
            x, state[f"{name}.running_mean"], state[f"{name}.running_var"],
            state[f"{name}.weight"], state[f"{name}.bias"], eps=1e-5,
        )  # fmt: skip

    stft = librosa.stft(
        audio, n_fft=512, hop_length=256, window=state["spec.spectrogram.window"].numpy(),
        center=True, pad_mode="reflect",
    )  # fmt: skip
    mel = torch.from_numpy(np.abs(stft) ** 2).float().T @ state["spec.mel_scale.fb"]
    x = bn((10 * torch.log10(mel.clamp(min=1e-10))).T[None, None], "spec_bn")
    front = []
    for i in (0, 1):
        w, b = state[f"layers.{i}.conv.weight"], state[f"layers.{i}.conv.bias"]
        y = F.relu(bn(F.conv2d(x, w, b, padding=(0, 3)), f"layers.{i}.bn"))
        front.append(y.amax(dim=2))
    for i in (2, 3, 4):
        w, b = state[f"layers.{i}.conv.weight"], state[f"layers.{i}.conv.bias"]
        y = F.conv1d(x.mean(dim=2), w, b, padding=w.shape[-1] // 2)
        front.append(F.relu(bn(y, f"layers.{i}.bn")))
    front = torch.cat(front, dim=1)
    res = []
    h = front
    for i in (1, 2, 3):
        w, b = state[f"layer{i}.conv.weight"], state[f"layer{i}.conv.bias"]
        out = F.relu(bn(F.conv1d(h, w, b, padding=3), f"layer{i}.bn"))
        h = out if i == 1 else out + h
        res.append(h)
    mid = torch.cat(res, dim=1)
    feats = torch.cat([front, mid], dim=1)
    pooled = torch.cat([feats.amax(-1), feats.mean(-1)], dim=1)
    emb = F.relu(bn(F.linear(pooled, state["dense1.weight"], state["dense1.bias"]), "bn"))
    tags = torch.sigmoid(F.linear(emb, state["dense2.weight"], state["dense2.bias"]))
    return {"front": front, "mid": mid, "embedding": emb, "tags": tags}


def test_front_end_buffers_match_torchaudio_defaults_used_upstream():
    spec = Musicnn().spec
    assert torch.equal(spec.spectrogram.window, torch.hann_window(512))
    expected = librosa.filters.mel(sr=SR, n_fft=512, n_mels=96, fmax=8000, htk=True, norm=None)
    np.testing.assert_allclose(spec.mel_scale.fb.numpy(), expected.T, atol=1e-6)


def test_tiny_checkpoint_loads_and_matches_reference_forward(tiny_checkpoint):
    path, state = tiny_checkpoint
    encoder = MusicnnEncoder(weights_path=str(path))
    audio = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    out = encoder.model(torch.from_numpy(audio)[None])
    ref = reference_forward(state, audio)
    assert out.front_end.shape == (1, 561, 188) and out.mid_end.shape == (1, 192, 188)
    for got, key in [(out.front_end, "front"), (out.mid_end, "mid"), (out.embedding, "embedding")]:
        torch.testing.assert_close(got, ref[key], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.tags, ref["tags"], rtol=1e-4, atol=1e-5)
    assert out.tags.std().item() > 0.01 and out.embedding.abs().sum().item() > 0  # not a no-op


def test_encoder_layers_shapes_and_window_pooling(tiny_checkpoint):
    path, state = tiny_checkpoint
    encoder = MusicnnEncoder(weights_path=str(path.parent), pooling="meanstd")
    assert encoder.layer_names() == ["front_end", "mid_end", "embedding", "tags"]
    assert encoder.window_layer_dims() == [561, 192, 200, 50]
    assert encoder.layer_dims() == [1122, 384, 400, 100]
    rng = np.random.default_rng(1)
    long = rng.normal(0, 0.1, 7 * SR).astype(np.float32)  # windows at 0, 3 and 4 s
    short = rng.normal(0, 0.1, SR).astype(np.float32)  # one window of its real length
    emb = encoder.embed([torch.from_numpy(long), torch.from_numpy(short)])
    assert emb.shape == (2, 4, 1122)
    windows = np.stack([long[s : s + 3 * SR] for s in (0, 3 * SR, 4 * SR)])
    ref = [reference_forward(state, w) for w in windows]
    tags = torch.cat([r["tags"] for r in ref])
    torch.testing.assert_close(emb[0, 3, :50], tags.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(emb[0, 3, 50:100], tags.std(0, unbiased=False), rtol=1e-3, atol=1e-5)
    mids = torch.cat([r["mid"].mean(-1) for r in ref])
    torch.testing.assert_close(emb[0, 1, :192], mids.mean(0), rtol=1e-4, atol=1e-4)
    assert torch.all(emb[0, 2, 400:] == 0) and torch.all(emb[1, 3, 50:100] == 0)  # pad; 1 window
    meta = encoder.describe()
    assert meta["checkpoint"] == "mtg_jamendo" and meta["tag_names"] == list(MTG_JAMENDO_TAGS)
    assert (meta["window_s"], meta["hop_s"], meta["sample_rate"]) == (3.0, 3.0, SR)


def test_short_clip_is_encoded_at_its_real_length(tiny_checkpoint):
    """The model pools over time itself: a 1-s clip is its own 1-s input, not 2 s of zeros."""
    path, state = tiny_checkpoint
    encoder = MusicnnEncoder(weights_path=str(path))
    short = np.random.default_rng(3).normal(0, 0.1, SR).astype(np.float32)
    emb = encoder.embed([torch.from_numpy(short)])[0]
    ref = reference_forward(state, short)
    torch.testing.assert_close(emb[2, :200], ref["embedding"][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(emb[1, :192], ref["mid"][0].mean(-1), rtol=1e-4, atol=1e-4)
    zero_padded = encoder.embed([F.pad(torch.from_numpy(short), (0, 2 * SR))])[0]
    assert not torch.allclose(emb, zero_padded, atol=1e-3)


def test_denormal_weights_are_flushed_on_load(tmp_path):
    state = random_state_dict()
    tiny = torch.finfo(torch.float32).tiny
    state["dense1.weight"][0, :3] = torch.tensor([tiny / 4, -tiny / 2, 1e-3])
    torch.save(state, tmp_path / "w.pth", _use_new_zipfile_serialization=False)
    weight = MusicnnEncoder(weights_path=str(tmp_path / "w.pth")).model.dense1.weight
    assert weight[0, :3].tolist() == pytest.approx([0.0, 0.0, 1e-3])


def test_loading_is_strict_and_names_the_file(tmp_path):
    state = random_state_dict()
    del state["layer3.bn.running_var"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match=r"(?s)missing\.pth.*layer3\.bn\.running_var"):
        MusicnnEncoder(weights_path=str(tmp_path / "missing.pth"))
    state = random_state_dict()
    state["dense2.weight"] = torch.zeros(10, 200)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"(?s)shape\.pth.*dense2\.weight"):
        MusicnnEncoder(weights_path=str(tmp_path / "shape.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.pth: cannot read"):
        MusicnnEncoder(weights_path=str(tmp_path / "junk.pth"))


def test_unknown_checkpoint_name_is_rejected():
    with pytest.raises(ValueError, match="checkpoint must be one of.*'msd'"):
        MusicnnEncoder(checkpoint="msd")


def test_weights_found_through_env_dir_then_user_cache(tmp_path, monkeypatch, tiny_checkpoint):
    path, _ = tiny_checkpoint
    spec = weights.MUSICNN_MTG_JAMENDO
    cache = weights.user_cache_dir()
    assert cache.is_relative_to(tmp_path / "cache")
    cache.mkdir(parents=True)
    (cache / spec.filename).write_bytes(path.read_bytes())
    assert weights.resolve_weights(spec) == cache / spec.filename
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(path.parent))
    assert weights.resolve_weights(spec) == path  # the env directory wins over the cache


def test_absent_weights_without_network_give_one_clear_error():
    with pytest.raises(weights.WeightsNotFoundError) as info:
        MusicnnEncoder(checkpoint="mtat")
    message = str(info.value)
    for expected in ("musicnn_mtat.pth", "network disabled", "EMOFX_WEIGHTS_DIR", "weights_path"):
        assert expected in message
    with pytest.raises(weights.WeightsNotFoundError, match="downloads are disabled"):
        MusicnnEncoder(allow_download=False)
    with pytest.raises(weights.WeightsNotFoundError, match=r"weights_path='/nonexistent.pth'"):
        MusicnnEncoder(weights_path="/nonexistent.pth")


def test_download_lands_in_cache_only_with_the_right_sha256(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)  # fed a file:// URL
    source = tmp_path / "upstream.pth"
    source.write_bytes(b"checkpoint bytes")
    good = hashlib.sha256(source.read_bytes()).hexdigest()
    spec = weights.WeightsSpec("demo", "demo.pth", url=source.as_uri(), sha256=good)
    assert weights.resolve_weights(spec).read_bytes() == b"checkpoint bytes"

    bad = weights.WeightsSpec("bad", "bad.pth", url=source.as_uri(), sha256="0" * 64)
    with pytest.raises(weights.WeightsNotFoundError, match="invalid hash value"):
        weights.resolve_weights(bad)
    assert not (weights.user_cache_dir() / "bad.pth").exists()


def test_lightning_config_instantiates_the_encoder(tiny_checkpoint):
    path, _ = tiny_checkpoint
    config = REPO / "lightning_configs" / "embed.musicnn.yaml"
    encoder = instantiate_model_config(config, weights_path=str(path))
    assert isinstance(encoder, MusicnnEncoder)
    assert (encoder.checkpoint, encoder.window_s, encoder.hop_s) == ("mtg_jamendo", 3.0, 3.0)
    assert set(yaml.safe_load(config.read_text())["trainer"]) >= {"accelerator", "devices"}


# --- real weights (../shared/weights) ------------------------------------------------------------
class RealRun:
    """The MTG-Jamendo model on Brahms and on 60 s of Vibe Ace, timed on one core (CPU time)."""

    def __init__(self) -> None:
        self.encoder = MusicnnEncoder(weights_path=str(real_weights_dir()))
        brahms, vibe = real_audio(BRAHMS), real_audio(VIBE_ACE)[: 60 * SR]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self.encoder.embed([brahms[: 3 * SR]])  # warm-up
            start = time.process_time()  # CPU time: robust to other jobs on the machine
            self.vibe = self.encoder.embed([vibe])[0, 3, :50]
            self.cpu_s_per_minute = time.process_time() - start
            self.brahms = self.encoder.embed([brahms])[0, 3, :50]
        finally:
            torch.set_num_threads(threads)

    def top(self, probs: torch.Tensor, k: int) -> list[str]:
        return [self.encoder.tag_names[i] for i in probs.argsort(descending=True)[:k]]

    def prob(self, probs: torch.Tensor, tag: str) -> float:
        return probs[self.encoder.tag_names.index(tag)].item()


@pytest.fixture(scope="module")
def real_run() -> RealRun:
    return RealRun()


def test_real_jamendo_weights_hear_classical_strings_and_jazz_piano(real_run):
    assert real_run.top(real_run.brahms, 1) == ["classical"]
    assert {"piano", "jazz"} <= set(real_run.top(real_run.vibe, 8))
    for tag in ("classical", "orchestral", "strings", "violin"):
        assert real_run.prob(real_run.brahms, tag) > 1.5 * real_run.prob(real_run.vibe, tag), tag
    for tag in ("electronic", "lounge", "easylistening"):
        assert real_run.prob(real_run.vibe, tag) > 1.5 * real_run.prob(real_run.brahms, tag), tag


def test_real_weights_run_about_a_second_per_minute_on_one_core(real_run):
    assert real_run.cpu_s_per_minute < 2.5, (
        f"{real_run.cpu_s_per_minute:.2f} CPU s per minute of audio (denormals not flushed?)"
    )


def test_real_mtat_weights_via_env_dir(monkeypatch):
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(real_weights_dir()))
    encoder = MusicnnEncoder(checkpoint="mtat")
    assert encoder.tag_names == MTAT_TAGS
    tags = encoder.embed([real_audio(BRAHMS)])[0, 3, :50]
    top = [MTAT_TAGS[i] for i in tags.argsort(descending=True)[:3]]
    assert top[0] == "classical" and {"strings", "violin"} <= set(top)


def test_tag_audio_and_tag_command(real_run):
    scores = tag_audio(BRAHMS, real_run.encoder, top_k=5)
    assert [s.tag for s in scores] == real_run.top(real_run.brahms, 5)
    assert [s.probability for s in scores] == sorted((s.probability for s in scores), reverse=True)
    trumpet = MUSIC / "sorohanro_-_solo-trumpet-06.ogg"
    real_audio(trumpet)
    text = tag_command(trumpet, weights_path=str(real_weights_dir()), top_k=3)
    lines = text.splitlines()
    assert "mtg_jamendo" in lines[0] and len(lines) == 4
    assert lines[1].split()[0] in MTG_JAMENDO_TAGS and float(lines[1].split()[1]) > 0
