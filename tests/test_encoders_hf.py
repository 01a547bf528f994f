"""MERT-v1, CLAP and Qwen2-Audio encoders on tiny random checkpoints in their official formats.

Every model is written to disk the way the published checkpoint is laid out, loaded through the
encoder classes users configure, and compared with a forward pass of the same weights run directly
through transformers. The Hub is offline throughout (HF_HUB_OFFLINE, an empty cache).
"""

from __future__ import annotations

import copy
import inspect
import json
import shutil
from importlib import import_module
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from huggingface_hub import constants
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from transformers import (
    AutoProcessor,
    ClapFeatureExtractor,
    Wav2Vec2FeatureExtractor,
    WhisperFeatureExtractor,
)

import emofx.encoders.qwen2_audio as qwen2_audio_module
from emofx.encoders.clap import ClapCheckpointError, ClapEncoder, ClapFrontEnd
from emofx.encoders.hf_loading import ModelNotAvailableError
from emofx.encoders.mert import MertCheckpointError, MertEncoder
from emofx.encoders.qwen2_audio import Qwen2AudioCheckpointError, Qwen2AudioEncoder
from tests.tiny_models import (
    MERT_V1_95M,
    MERT_V1_330M,
    TINY_CLAP_FEATURES,
    TINY_MERT,
    TINY_MERT_330M,
    write_clap,
    write_mert,
    write_qwen2_audio,
)

REPO = Path(__file__).resolve().parents[1]
ATOL = 1e-5


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """No network, and a Hugging Face cache that starts empty."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def put_in_hub_cache(cache: Path, repo_id: str, source: Path, skip: tuple[str, ...] = ()) -> None:
    """Lay ``source``'s files out as a downloaded Hub snapshot (models--org--name/snapshots/...)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for path in source.iterdir():
        if path.name not in skip:
            shutil.copy(path, snapshot / path.name)


def wav2vec2_normalise(windows: torch.Tensor) -> torch.Tensor:
    """MERT's preprocessor (do_normalize): zero mean, unit variance per window."""
    mean = windows.mean(1, keepdim=True)
    var = windows.var(1, unbiased=False, keepdim=True)
    return (windows - mean) / torch.sqrt(var + 1e-7)


def assert_layers(outputs: list[torch.Tensor], encoder, n_windows: int) -> None:
    assert len(outputs) == len(encoder.layer_names()) == len(encoder.window_layer_dims())
    for out, dim in zip(outputs, encoder.window_layer_dims(), strict=True):
        assert out.shape == (n_windows, dim)
        assert torch.isfinite(out).all()


# --- MERT-v1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arch", "weights"),
    [(TINY_MERT, "safetensors"), (TINY_MERT_330M, "bin")],
    ids=["95M-style-safetensors", "330M-style-pytorch-bin"],
)
def test_mert_matches_reference_forward(tmp_path, arch, weights):
    reference = write_mert(tmp_path / "mert", arch, weights=weights)
    encoder = MertEncoder(model=str(tmp_path / "mert"), window_s=0.5)
    assert encoder.sample_rate == 24_000
    n_states = arch["num_hidden_layers"] + 1
    assert encoder.layer_names() == [f"layer_{i:02d}" for i in range(n_states)]

    windows = torch.randn(3, 12_000) * 0.3 + 0.1
    outputs = encoder.encode_windows(windows)
    assert_layers(outputs, encoder, 3)

    ref = reference(wav2vec2_normalise(windows), output_hidden_states=True)
    expected = [*ref.hidden_states[:-1], ref.last_hidden_state]  # MERT: last one after final LN
    for out, state in zip(outputs, expected, strict=True):
        torch.testing.assert_close(out, state.mean(1), atol=ATOL, rtol=0)
    if arch.get("do_stable_layer_norm"):  # pre-LN: the final layer norm really changes the state
        assert not torch.allclose(ref.hidden_states[-1].mean(1), outputs[-1], atol=1e-3)


# The published config.json architecture flags (m-a-p/MERT-v1-95M, m-a-p/MERT-v1-330M).
@pytest.mark.parametrize(
    ("arch", "real"),
    [
        ((TINY_MERT, MERT_V1_95M), dict(feat_extract_norm="group", conv_bias=False,
                                        do_stable_layer_norm=False)),
        ((TINY_MERT_330M, MERT_V1_330M), dict(feat_extract_norm="group", conv_bias=False,
                                              do_stable_layer_norm=True)),
    ],
    ids=["95M", "330M"],
)  # fmt: skip
def test_tiny_mert_configs_have_the_published_architecture_flags(tmp_path, arch, real):
    for i, variant in enumerate(arch):
        if variant is arch[1]:  # full size: check the dict, writing it would take minutes
            config = variant
        else:
            write_mert(tmp_path / f"m{i}", variant)
            config = json.loads((tmp_path / f"m{i}" / "config.json").read_text())
        assert {k: config[k] for k in real} == real
    assert MERT_V1_330M["num_hidden_layers"] == 24 and MERT_V1_330M["hidden_size"] == 1024


def test_mert_short_clip_is_encoded_at_its_real_length_like_the_model_card(tmp_path):
    """MERT's card runs the processor on the whole (unpadded) clip; so must a short clip here."""
    reference = write_mert(tmp_path / "mert", TINY_MERT_330M)
    encoder = MertEncoder(model=str(tmp_path / "mert"), window_s=1.0)
    clip = torch.randn(9_000) * 0.3 + 0.05  # 0.375 s in a 1-s window
    embedded = encoder.embed([clip])[0]

    processor = Wav2Vec2FeatureExtractor.from_pretrained(tmp_path / "mert")
    inputs = processor(clip.numpy(), sampling_rate=24_000, return_tensors="pt")
    with torch.no_grad():
        ref = reference(**inputs, output_hidden_states=True)
    expected = [*ref.hidden_states[:-1], ref.last_hidden_state]
    torch.testing.assert_close(
        embedded, torch.stack([s[0].mean(0) for s in expected]), atol=ATOL, rtol=0
    )
    zero_padded = encoder.embed([F.pad(clip, (0, 24_000 - clip.shape[0]))])[0]
    assert not torch.allclose(embedded, zero_padded, atol=1e-3)


def test_mert_embed_averages_windows_and_describes_itself(tmp_path):
    write_mert(tmp_path / "mert")
    encoder = MertEncoder(model=str(tmp_path / "mert"), window_s=0.5, hop_s=0.25)
    clip = torch.randn(24_000)  # 1 s → windows at 0, .25, .5 s
    embedded = encoder.embed([clip])
    windows = torch.stack([clip[s : s + 12_000] for s in (0, 6_000, 12_000)])
    expected = torch.stack([layer.mean(0) for layer in encoder.encode_windows(windows)])
    torch.testing.assert_close(embedded[0], expected, atol=ATOL, rtol=0)
    meta = encoder.describe()
    assert meta["model"] == str(tmp_path / "mert")
    assert meta["sample_rate"] == 24_000 and meta["layer_dims"] == [32, 32, 32]


def test_mert_refuses_cqt_front_end(tmp_path):
    write_mert(tmp_path / "mert", mert_fields={"feature_extractor_cqt": True})
    with pytest.raises(MertCheckpointError, match="feature_extractor_cqt=True"):
        MertEncoder(model=str(tmp_path / "mert"))


def test_mert_fails_loudly_on_unexpected_and_missing_keys(tmp_path):
    extra = {"feature_extractor_cqt.cqt_kernels_real": torch.zeros(4, 8)}
    write_mert(tmp_path / "extra", extra_tensors=extra)
    with pytest.raises(MertCheckpointError, match="cqt_kernels_real"):
        MertEncoder(model=str(tmp_path / "extra"))

    write_mert(tmp_path / "missing")
    weights = tmp_path / "missing" / "model.safetensors"
    state = load_file(weights)
    del state["encoder.layers.1.attention.q_proj.weight"]
    save_file(state, weights)
    with pytest.raises(MertCheckpointError, match=r"encoder\.layers\.1\.attention\.q_proj\.weight"):
        MertEncoder(model=str(tmp_path / "missing"))


# --- CLAP ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory):
    directory = tmp_path_factory.mktemp("clap")
    return directory, write_clap(directory)


def test_clap_matches_reference_forward(tiny_clap):
    directory, reference = tiny_clap
    encoder = ClapEncoder(model=str(directory))
    assert encoder.window_s == 2.0 and encoder.sample_rate == 48_000
    assert encoder.layer_names() == [
        "patch_embed", "stage_1", "stage_2", "stage_3", "stage_4", "pooled", "projection"
    ]  # fmt: skip
    assert encoder.window_layer_dims() == [8, 8, 16, 32, 64, 64, 16]

    windows = torch.randn(3, 96_000) * 0.2
    outputs = encoder.encode_windows(windows)
    assert_layers(outputs, encoder, 3)

    extractor = ClapFeatureExtractor(**TINY_CLAP_FEATURES)
    features = extractor(list(windows.numpy()), sampling_rate=48_000, return_tensors="pt")
    ref = reference.audio_model(
        input_features=features["input_features"],
        output_hidden_states=True,
        output_hidden_states_before_downsampling=True,
    )
    projected = reference.get_audio_features(**features).pooler_output  # L2-normalised
    expected = [s.mean(dim=(2, 3)) for s in ref.hidden_states] + [ref.pooler_output, projected]
    for out, exp in zip(outputs, expected, strict=True):
        torch.testing.assert_close(out, exp, atol=ATOL, rtol=0)
    torch.testing.assert_close(outputs[-1].norm(dim=-1), torch.ones(3))


@pytest.mark.parametrize("padding", ["repeatpad", "repeat", "pad"])
@pytest.mark.parametrize("seconds", [2.0, 0.625])
def test_clap_torch_front_end_is_its_feature_extractor(tiny_clap, padding, seconds):
    """One batched STFT on the model's device gives the extractor's numpy log-mel (dB)."""
    extractor = ClapFeatureExtractor.from_pretrained(tiny_clap[0], padding=padding)
    windows = torch.randn(3, int(48_000 * seconds)) * 0.2
    got = ClapFrontEnd(extractor)(windows)
    expected = extractor(list(windows.numpy()), sampling_rate=48_000, return_tensors="pt")
    torch.testing.assert_close(got, expected["input_features"], atol=2e-3, rtol=0)


def test_clap_short_clip_is_repeat_padded_by_its_feature_extractor(tiny_clap):
    directory, reference = tiny_clap
    encoder = ClapEncoder(model=str(directory))  # 2-s windows
    clip = torch.randn(30_000) * 0.2  # 0.625 s
    embedded = encoder.embed([clip])[0]

    processor = ClapFeatureExtractor.from_pretrained(directory)  # padding: repeatpad
    features = processor(clip.numpy(), sampling_rate=48_000, return_tensors="pt")
    with torch.no_grad():
        projected = reference.get_audio_features(**features).pooler_output
    torch.testing.assert_close(embedded[-1, :16], projected[0], atol=ATOL, rtol=0)
    zero_padded = encoder.embed([F.pad(clip, (0, 96_000 - clip.shape[0]))])[0]
    assert not torch.allclose(embedded, zero_padded, atol=1e-3)


def test_clap_windows_are_deterministic(tiny_clap):
    directory, _ = tiny_clap
    encoder = ClapEncoder(model=str(directory), window_s=1.5)  # shorter: repeat-padded, no crop
    clip = torch.randn(200_000) * 0.2  # ~4.2 s: several windows
    np.random.seed(1)
    first = encoder.embed([clip])
    np.random.seed(2)
    second = encoder.embed([clip])
    assert torch.equal(first, second)
    with pytest.raises(ValueError, match="randomly cropped"):
        ClapEncoder(model=str(directory), window_s=2.5)


def test_clap_refuses_fused_checkpoints_and_foreign_keys(tmp_path):
    write_clap(tmp_path / "fused", audio={"enable_fusion": True})
    with pytest.raises(ClapCheckpointError, match="enable_fusion"):
        ClapEncoder(model=str(tmp_path / "fused"))

    write_clap(tmp_path / "foreign")
    weights = tmp_path / "foreign" / "model.safetensors"
    state = load_file(weights)
    state["audio_model.audio_encoder.extra_head.weight"] = torch.zeros(2, 2)
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(ClapCheckpointError, match="extra_head"):
        ClapEncoder(model=str(tmp_path / "foreign"))


# --- Qwen2-Audio --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    directory = tmp_path_factory.mktemp("qwen2_audio")
    model, weight_map = write_qwen2_audio(directory)
    return directory, model, weight_map


@pytest.fixture
def opened_shards(monkeypatch):
    """Names of the safetensors files the Qwen2-Audio loader opens."""
    opened: list[str] = []
    real_safe_open = qwen2_audio_module.safe_open

    def spy(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real_safe_open(path, *args, **kwargs)

    monkeypatch.setattr(qwen2_audio_module, "safe_open", spy)
    return opened


def capture_tower_states(tower) -> tuple[list[torch.Tensor], list]:
    """Hooks recording the input of the first layer and every layer's output."""
    states: list[torch.Tensor] = []
    hooks = [tower.layers[0].register_forward_pre_hook(lambda m, args: states.append(args[0]))]
    for layer in tower.layers:
        hooks.append(layer.register_forward_hook(lambda m, args, out: states.append(out)))
    return states, hooks


def test_qwen2_audio_reads_only_audio_shards_and_matches_reference(tiny_qwen, opened_shards):
    directory, reference, weight_map = tiny_qwen
    language_shard = "model-00003-of-00003.safetensors"
    assert all(
        k.startswith("language_model.") for k, v in weight_map.items() if v == language_shard
    )

    encoder = Qwen2AudioEncoder(model=str(directory), window_s=1.0)
    assert sorted(opened_shards) == [
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
    ]
    assert encoder.layer_names() == ["conv_embed", "layer_01", "layer_02", "output"]

    windows = torch.randn(2, 16_000) * 0.2
    outputs = encoder.encode_windows(windows)
    assert_layers(outputs, encoder, 2)

    extractor = WhisperFeatureExtractor.from_pretrained(directory)
    mels = extractor(list(windows.numpy()), sampling_rate=16_000, return_tensors="pt")
    tower = reference.model.audio_tower
    states, hooks = capture_tower_states(tower)
    with torch.no_grad():
        last = tower(mels["input_features"]).last_hidden_state
    for hook in hooks:
        hook.remove()
    expected = [s.mean(1) for s in states] + [last.mean(1)]
    for out, exp in zip(outputs, expected, strict=True):
        torch.testing.assert_close(out, exp, atol=ATOL, rtol=0)


def test_qwen2_audio_short_windows_are_masked_like_the_full_model(tiny_qwen):
    directory, reference, _ = tiny_qwen
    encoder = Qwen2AudioEncoder(model=str(directory), window_s=0.5)
    windows = torch.randn(2, 8_000) * 0.2
    outputs = encoder.encode_windows(windows)

    # The full model's own path: 50 valid mel frames → 25 encoder frames → 12 audio tokens each.
    extractor = WhisperFeatureExtractor.from_pretrained(directory)
    features = extractor(
        list(windows.numpy()), sampling_rate=16_000, return_attention_mask=True,
        padding="max_length", return_tensors="pt",
    )  # fmt: skip
    tower = reference.model.audio_tower
    states, hooks = capture_tower_states(tower)
    pooled = []
    hooks.append(
        tower.register_forward_hook(lambda m, a, out: pooled.append(out.last_hidden_state))
    )
    audio_token = reference.config.audio_token_id
    with torch.no_grad():
        reference.model(
            input_ids=torch.full((2, 12), audio_token),
            attention_mask=torch.ones(2, 12, dtype=torch.long),
            input_features=features["input_features"],
            feature_attention_mask=features["attention_mask"],
        )
    for hook in hooks:
        hook.remove()
    expected = [s[:, :25].mean(1) for s in states] + [pooled[0][:, :12].mean(1)]
    for out, exp in zip(outputs, expected, strict=True):
        torch.testing.assert_close(out, exp, atol=ATOL, rtol=0)
    full_window_mean = states[-1].mean(1)  # padding frames would change the mean
    assert not torch.allclose(outputs[-2], full_window_mean, atol=1e-3)


def test_qwen2_audio_short_clip_is_masked_not_zero_padded(tiny_qwen):
    """A clip shorter than the window: the extractor's mask marks the padding, not the caller."""
    directory, _, _ = tiny_qwen
    encoder = Qwen2AudioEncoder(model=str(directory), window_s=1.0)
    clip = torch.randn(8_000) * 0.2
    embedded = encoder.embed([clip])[0]
    # the masked path checked against the full model above, on the clip's real 0.5 s
    expected = encoder.encode_windows(clip[None])
    torch.testing.assert_close(embedded, torch.stack([e[0] for e in expected]), atol=ATOL, rtol=0)
    zero_padded = encoder.embed([F.pad(clip, (0, 8_000))])[0]
    assert not torch.allclose(embedded, zero_padded, atol=1e-3)


def test_qwen2_audio_missing_tower_tensor_is_an_error(tmp_path):
    write_qwen2_audio(tmp_path / "q")
    shard = tmp_path / "q" / "model-00001-of-00003.safetensors"
    state = load_file(shard)
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, shard, metadata={"format": "pt"})
    with pytest.raises(Qwen2AudioCheckpointError, match=dropped.removeprefix("audio_tower.")):
        Qwen2AudioEncoder(model=str(tmp_path / "q"), window_s=1.0)


def test_qwen2_audio_decoder_mode_needs_a_gpu(tiny_qwen, monkeypatch):
    directory, _, _ = tiny_qwen
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        Qwen2AudioEncoder(model=str(directory), representation="decoder")


def test_qwen2_audio_decoder_mode_pools_only_the_audio_tokens_in_fp16(tiny_qwen, monkeypatch):
    """The GPU-only paper-parity path, run on CPU with a pretend GPU: fp16 weights, the mean of
    the LM's last state over the audio tokens, as many as each clip's real length gives."""
    directory, reference, _ = tiny_qwen
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    encoder = Qwen2AudioEncoder(model=str(directory), representation="decoder", window_s=1.0)
    assert encoder.layer_names() == ["decoder_last"] and encoder.window_layer_dims() == [32]
    assert encoder.model.dtype == torch.float16
    assert encoder.prompt == qwen2_audio_module.PAPER_PARITY_PROMPT
    clips = [torch.randn(16_000) * 0.2, torch.randn(8_000) * 0.2]  # 1 s and 0.5 s (short)
    out = encoder.embed(clips)[:, 0]

    audio_token = reference.config.audio_token_id
    reference_fp16 = copy.deepcopy(reference.model).to(torch.float16)
    processor = AutoProcessor.from_pretrained(directory)
    for clip, got, n_tokens in zip(clips, out, (25, 12), strict=True):
        inputs = processor(
            text=[encoder.prompt], audio=[clip.numpy()], sampling_rate=16_000,
            return_tensors="pt",
        )  # fmt: skip
        is_audio = inputs["input_ids"][0] == audio_token
        assert is_audio.sum() == n_tokens  # 100 mel frames -> 25 tokens; 50 -> 12
        with torch.no_grad():
            last = reference_fp16(**inputs).last_hidden_state.float()[0]
        # fp16 on both sides; the only drift is the rotary buffer kept in fp32 by from_pretrained
        torch.testing.assert_close(got, last[is_audio].mean(0), atol=2e-2, rtol=0)
        assert not torch.allclose(got, last.mean(0), atol=1e-2)  # text tokens are left out
    assert out.abs().max() > 0.1


# --- Hub ids, offline ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoder_class", "hub_id"),
    [
        (MertEncoder, "m-a-p/MERT-v1-95M"),
        (ClapEncoder, "laion/larger_clap_music"),
        (Qwen2AudioEncoder, "Qwen/Qwen2-Audio-7B"),
    ],
)
def test_hub_model_without_network_or_local_copy_is_one_clear_error(encoder_class, hub_id):
    with pytest.raises(ModelNotAvailableError) as info:
        encoder_class(model=hub_id)
    message = str(info.value)
    assert hub_id in message and "HF_HUB_OFFLINE is set" in message
    assert "`model:`" in message and "HF_HOME" in message


def test_hub_ids_resolve_from_the_offline_cache(tmp_path, offline_hub, tiny_qwen, opened_shards):
    write_mert(tmp_path / "mert")
    put_in_hub_cache(offline_hub, "emofx-test/tiny-mert", tmp_path / "mert")
    assert MertEncoder(model="emofx-test/tiny-mert").layer_names()[-1] == "layer_02"

    # Only the shards with audio_tower tensors were ever downloaded: enough for the encoder.
    directory, _, _ = tiny_qwen
    language_shard = "model-00003-of-00003.safetensors"
    put_in_hub_cache(offline_hub, "emofx-test/tiny-qwen2-audio", directory, skip=(language_shard,))
    encoder = Qwen2AudioEncoder(model="emofx-test/tiny-qwen2-audio", window_s=1.0)
    assert language_shard not in opened_shards
    assert encoder.encode_windows(torch.zeros(1, 16_000))[0].shape == (1, 32)


def test_bad_local_paths_name_the_problem(tmp_path):
    write_mert(tmp_path / "mert")
    (tmp_path / "mert" / "preprocessor_config.json").unlink()
    with pytest.raises(ModelNotAvailableError, match="has no preprocessor_config.json"):
        MertEncoder(model=str(tmp_path / "mert"))
    with pytest.raises(ModelNotAvailableError, match="neither an existing local directory"):
        MertEncoder(model=str(tmp_path / "no" / "such" / "dir"))


# --- Lightning ----------------------------------------------------------------------------------
@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true"])
def test_encoders_predict_under_lightning_bf16(tmp_path, tiny_clap, tiny_qwen, precision):
    write_mert(tmp_path / "mert")
    encoders = [
        MertEncoder(model=str(tmp_path / "mert"), window_s=0.5),
        ClapEncoder(model=str(tiny_clap[0])),
        Qwen2AudioEncoder(model=str(tiny_qwen[0]), window_s=1.0),
    ]
    for encoder in encoders:
        clips = [torch.randn(int(encoder.sample_rate * s)) * 0.2 for s in (1.3, 0.7)]
        expected = encoder.embed(clips)  # float32
        loader = DataLoader(
            [{"audio": clip, "track_id": f"t{i}"} for i, clip in enumerate(clips)],
            batch_size=2,
            collate_fn=lambda items: {
                "audio": [item["audio"] for item in items],
                "track_id": [item["track_id"] for item in items],
            },
        )
        trainer = L.Trainer(
            accelerator="cpu", precision=precision, logger=False, enable_progress_bar=False
        )
        (batch,) = trainer.predict(encoder, loader)
        assert batch["track_id"] == ["t0", "t1"]
        got = batch["embedding"]
        assert got.dtype == torch.float32 and got.shape == expected.shape
        scale = expected.abs().amax(dim=-1, keepdim=True)
        assert ((got - expected).abs() / scale).max() < 0.1, encoder.name  # bf16: ~3 digits


# --- LightningCLI configs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "encoder"),
    [("mert", "mert"), ("mert330", "mert"), ("clap", "clap"), ("qwen2_audio", "qwen2_audio")],
)
def test_embed_configs_name_real_arguments(name, encoder):
    config = yaml.safe_load((REPO / "lightning_configs" / f"embed.{name}.yaml").read_text())
    module, _, cls_name = config["model"]["class_path"].rpartition(".")
    encoder_class = getattr(import_module(module), cls_name)
    assert encoder_class.name == encoder
    inspect.signature(encoder_class).bind(**config["model"]["init_args"])
    inspect.signature(L.Trainer).bind(**config["trainer"])
    assert json.dumps(config)  # plain data only
