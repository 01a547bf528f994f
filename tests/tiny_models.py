"""Tiny random checkpoints written in the official on-disk formats of the Hugging Face encoders.

Each writer builds a randomly initialised transformers model, writes it the way the published
checkpoint is laid out (config.json + weights with the real key names + preprocessor_config.json)
and returns the in-memory model, so a test can compare the loading code's outputs with a forward
pass of the very same weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    HubertConfig,
    HubertModel,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2Tokenizer,
    Wav2Vec2FeatureExtractor,
    WhisperFeatureExtractor,
)

# --- MERT-v1 ----------------------------------------------------------------------------------
# The architecture flags of the published config.json files. Both use a group-normed CNN front end
# without conv biases (wav2vec2-base style); 330M adds the pre-LN ("stable layer norm") transformer.
MERT_V1_95M_STYLE = dict(do_stable_layer_norm=False, feat_extract_norm="group", conv_bias=False)
MERT_V1_330M_STYLE = dict(do_stable_layer_norm=True, feat_extract_norm="group", conv_bias=False)
TINY_MERT = dict(
    **MERT_V1_95M_STYLE,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=[16, 16, 16],
    conv_kernel=[10, 4, 4],
    conv_stride=[5, 4, 4],  # 80 samples per frame (MERT-v1: 320)
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)
# A tiny 330M-style checkpoint, with more layers than the 95M-style one so the two differ in depth.
TINY_MERT_330M = {**TINY_MERT, **MERT_V1_330M_STYLE, "num_hidden_layers": 3}
# m-a-p/MERT-v1-95M's architecture (its config.json), for full-size benchmarks with random weights.
MERT_V1_95M = dict(
    **MERT_V1_95M_STYLE,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    conv_dim=[512] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
)
# m-a-p/MERT-v1-330M's architecture (25 hidden states of 1024).
MERT_V1_330M = {
    **MERT_V1_95M,
    **MERT_V1_330M_STYLE,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}
MERT_EXTRA_FIELDS = dict(
    feature_extractor_cqt=False,
    feature_extractor_cqt_bins=336,
    deepnorm=False,
    attention_relax=-1.0,
    sample_rate=24000,
)


def write_mert(
    directory: Path,
    arch: dict | None = None,
    *,
    weights: str = "safetensors",
    mert_fields: dict | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    seed: int = 0,
) -> HubertModel:
    """A MERT-v1 folder: MERTConfig config.json, Wav2Vec2 preprocessor, MERTModel weights.

    ``MERTModel`` subclasses ``HubertModel`` with the same module names and no prefix; its
    positional conv weight norm is stored as ``weight_g``/``weight_v`` (pre-parametrization torch).
    ``weights`` is ``"safetensors"`` (model.safetensors) or ``"bin"`` (pytorch_model.bin, as on the
    Hub for MERT-v1).
    """
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = HubertConfig(**(TINY_MERT if arch is None else arch))
    model = HubertModel(config).eval()
    fields = {
        **config.to_dict(),
        **MERT_EXTRA_FIELDS,
        **(mert_fields or {}),
        "model_type": "mert_model",
        "architectures": ["MERTModel"],
        "auto_map": {
            "AutoConfig": "configuration_MERT.MERTConfig",
            "AutoModel": "modeling_MERT.MERTModel",
        },
    }
    (directory / "config.json").write_text(json.dumps(fields, indent=2))
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=fields["sample_rate"],
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(directory)
    state = {
        key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): value.contiguous()
        for key, value in model.state_dict().items()
    }
    state.update(extra_tensors or {})
    if weights == "safetensors":
        save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    else:
        torch.save(state, directory / "pytorch_model.bin")
    return model


# --- CLAP ---------------------------------------------------------------------------------------
TINY_CLAP_AUDIO = dict(
    spec_size=128,
    num_mel_bins=32,
    patch_size=4,
    patch_stride=[4, 4],
    window_size=4,
    depths=[1, 1, 1, 1],
    num_attention_heads=[1, 2, 2, 4],
    patch_embeds_hidden_size=8,
    hidden_size=64,
    enable_fusion=False,
)
TINY_CLAP_TEXT = dict(
    vocab_size=64,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=40,
)
# laion/larger_clap_music preprocessor settings, with a 2-s window and 32 mel bands for speed.
TINY_CLAP_FEATURES = dict(
    feature_size=32,
    sampling_rate=48000,
    hop_length=480,
    max_length_s=2,
    fft_window_size=1024,
    frequency_min=50,
    frequency_max=14000,
    truncation="rand_trunc",
    padding="repeatpad",
)


def write_clap(directory: Path, audio: dict | None = None, *, seed: int = 0) -> ClapModel:
    """A laion CLAP folder (ClapModel: text + audio towers, projections, logit scales)."""
    torch.manual_seed(seed)
    config = ClapConfig(
        audio_config={**TINY_CLAP_AUDIO, **(audio or {})},
        text_config=TINY_CLAP_TEXT,
        projection_dim=16,
    )
    model = ClapModel(config).eval()
    model.save_pretrained(directory)
    ClapFeatureExtractor(**TINY_CLAP_FEATURES).save_pretrained(directory)
    return model


# --- Qwen2-Audio --------------------------------------------------------------------------------
TINY_QWEN2_AUDIO_ENCODER = dict(
    model_type="qwen2_audio_encoder",
    d_model=32,
    encoder_layers=2,
    encoder_attention_heads=4,
    encoder_ffn_dim=64,
    num_mel_bins=128,
    max_source_positions=50,  # 100 mel frames = 1 s (the real model: 1500 = 30 s)
)
TINY_QWEN2_TEXT = dict(
    model_type="qwen2",
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=64,
    vocab_size=264,  # 256 byte tokens + 4 special tokens, rounded up
)
QWEN2_AUDIO_SPECIAL_TOKENS = ["<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]


def tiny_qwen2_tokenizer() -> Qwen2Tokenizer:
    """Byte-level BPE without merges: one token per byte, plus Qwen2-Audio's special tokens."""
    vocab = {char: i for i, char in enumerate(sorted(ByteLevel.alphabet()))}
    return Qwen2Tokenizer(
        vocab=vocab, merges=[], additional_special_tokens=QWEN2_AUDIO_SPECIAL_TOKENS
    )


def write_qwen2_audio(
    directory: Path, *, seed: int = 0
) -> tuple[Qwen2AudioForConditionalGeneration, dict]:
    """A Qwen2-Audio-7B-style folder: processor files, three shards + the shard index.

    Keys use the checkpoint's names (``audio_tower.*``, ``multi_modal_projector.*``,
    ``language_model.model.*``, ``language_model.lm_head.*``). The audio tower is split over the
    first two shards; the third holds only language-model tensors. Returns the model and the
    index's ``weight_map``.
    """
    torch.manual_seed(seed)
    tokenizer = tiny_qwen2_tokenizer()
    config = Qwen2AudioConfig(
        audio_config=TINY_QWEN2_AUDIO_ENCODER,
        text_config=TINY_QWEN2_TEXT,
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    model = Qwen2AudioForConditionalGeneration(config).eval()
    model.save_pretrained(directory)  # transformers writes the checkpoint's own key names
    single = directory / "model.safetensors"
    state = load_file(single)
    single.unlink()
    audio = sorted(k for k in state if k.startswith("audio_tower."))
    rest = sorted(k for k in state if not k.startswith("audio_tower."))
    language = [k for k in rest if k.startswith("language_model.")]
    shards = {
        "model-00001-of-00003.safetensors": audio[: len(audio) // 2],
        "model-00002-of-00003.safetensors": audio[len(audio) // 2 :]
        + [k for k in rest if k not in language]
        + language[:2],
        "model-00003-of-00003.safetensors": language[2:],
    }
    weight_map = {}
    for name, keys in shards.items():
        save_file({k: state[k] for k in keys}, directory / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(keys, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    extractor = WhisperFeatureExtractor(
        feature_size=128,
        sampling_rate=16000,
        hop_length=160,
        chunk_length=1,
        n_fft=400,
        return_attention_mask=True,
    )
    extractor.save_pretrained(directory)  # preprocessor_config.json, as in the published repo
    tokenizer.save_pretrained(directory)
    return model, weight_map


# --- Musicnn and PANNs (plain PyTorch checkpoints) ----------------------------------------------
TINY_CNN14_CHANNELS = (4, 8, 8, 16, 16, 32)


def musicnn_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Musicnn-shaped random weights, BN statistics included, front-end buffers as upstream."""
    from emofx.encoders.musicnn import Musicnn  # librosa: not needed by the HF writers (GPU box)

    torch.manual_seed(seed)
    model = Musicnn()
    state = model.state_dict()
    for key, value in state.items():
        if key.startswith("spec.") or not value.is_floating_point():
            continue
        if key.endswith("running_var"):
            state[key] = torch.rand_like(value) + 0.5
        elif key.endswith(("running_mean", "bias")):
            state[key] = torch.randn_like(value) * 0.1
        elif key.endswith("bn.weight"):
            state[key] = torch.randn_like(value)  # negative BN scales exercise the min-pool path
    state["spec_bn.running_mean"] = torch.tensor([-40.0])
    state["spec_bn.running_var"] = torch.tensor([400.0])
    return state


def tiny_state_dict(classes: int = 7) -> dict[str, torch.Tensor]:
    """A random tiny CNN14 (real front end: 1024-point STFT, 64 mels) with random BN statistics."""
    from emofx.encoders.panns import Cnn14

    torch.manual_seed(0)
    state = Cnn14(TINY_CNN14_CHANNELS, classes_num=classes).state_dict()
    for key, value in state.items():
        if key.endswith("running_var"):
            state[key] = torch.rand_like(value) + 0.5
        elif key.endswith(("running_mean", "bn1.bias", "bn2.bias")):
            state[key] = torch.randn_like(value) * 0.1
        elif key.endswith(("bn1.weight", "bn2.weight")):
            state[key] = torch.rand_like(value) + 0.5
    state["bn0.running_mean"] = torch.full((64,), -30.0)
    state["bn0.running_var"] = torch.full((64,), 300.0)
    return state


def write_musicnn(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random Musicnn weights saved as upstream did: a plain state dict, legacy format."""
    state = musicnn_state_dict(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return state


def write_panns(path: Path) -> dict[str, torch.Tensor]:
    """A tiny CNN14 in the official on-disk format: ``torch.save({"model": state_dict})``."""
    state = tiny_state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state}, path)
    return state


# --- lightning_configs/embed.<name>.yaml pointed at tiny checkpoints -----------------------------
CONFIGS = Path(__file__).resolve().parents[1] / "lightning_configs"


def write_tiny_encoder_configs(
    checkpoints: Path, configs: Path, musicnn_weights: Path | None = None
) -> dict[str, Path]:
    """Every shipped ``embed.<name>.yaml`` (``mert330``: a MERT-v1-330M-style checkpoint)
    written to ``configs`` with its init args pointed at a tiny checkpoint under ``checkpoints``;
    ``musicnn_weights`` (e.g. the real file) replaces the tiny Musicnn weights. Returns
    ``{name: config path}``."""
    checkpoints.mkdir(parents=True, exist_ok=True)
    configs.mkdir(parents=True, exist_ok=True)
    if musicnn_weights is None:
        musicnn_weights = checkpoints / "musicnn_mtg_jamendo.pth"
        write_musicnn(musicnn_weights)
    write_panns(checkpoints / "Cnn14_mAP=0.431.pth")
    write_mert(checkpoints / "mert95", TINY_MERT)
    write_mert(checkpoints / "mert330", TINY_MERT_330M, weights="bin")
    write_clap(checkpoints / "clap")
    write_qwen2_audio(checkpoints / "qwen2_audio")
    init_args = {
        "musicnn": {"weights_path": str(musicnn_weights), "allow_download": False},
        "panns": {"weights_path": str(checkpoints / "Cnn14_mAP=0.431.pth")},
        "mert": {"model": str(checkpoints / "mert95")},
        "mert330": {"model": str(checkpoints / "mert330")},
        "clap": {"model": str(checkpoints / "clap")},
    }
    for name in ("qwen2_audio", "qwen2_audio_paper"):  # the tiny Whisper front end takes 1 s
        init_args[name] = {"model": str(checkpoints / "qwen2_audio"), "window_s": 1.0, "hop_s": 1.0}
    paths = {}
    for source in sorted(CONFIGS.glob("embed.*.yaml")):
        name = source.name.removeprefix("embed.").removesuffix(".yaml")
        config = yaml.safe_load(source.read_text())
        config["model"]["init_args"].update(init_args.get(name, {}))
        paths[name] = configs / f"embed.{name}.yaml"
        paths[name].write_text(yaml.safe_dump(config, sort_keys=False))
    return paths
