"""Qwen2-Audio's audio encoder (Whisper-style, 128-mel front end, 16 kHz, windows up to 30 s).

``representation="encoder"`` (default, CPU-friendly) materialises only the audio tower of the 7B
checkpoint: the shard index says which ``model-*.safetensors`` files hold ``audio_tower.*``
tensors; only those shards are fetched and opened (``safe_open``), the prefix is stripped and the
tensors are loaded strictly into transformers' ``Qwen2AudioEncoder``. The language model is never
read. Padding frames of windows shorter than 30 s are masked exactly as
``Qwen2AudioModel.forward`` masks them, and left out of the time means.

Layers: the convolutional embedding (input to the first transformer layer), every transformer
layer's output (1280-d at 50 Hz), and the encoder output (2x average-pooled + layer norm, 25 Hz:
what the language model receives through its projector).

``representation="decoder"`` is the paper-parity option (Katsis et al. 2025, "Exploring How Audio
Effects Alter Emotion with Foundation Models"): the full model in float16, a prompt holding the
audio, and the mean of the language model's last hidden state over the audio tokens only (the
``<|AUDIO|>`` placeholders, as many as the clip's real length gives; text and padding tokens are
left out). Under causal attention those states depend only on the prompt text *before* the audio,
so a prompt's instruction after ``<|audio_eos|>`` does not change them. It needs the full 7B model
(all shards, ~16 GB in fp16) and a CUDA GPU; on a machine without one it refuses to start.
Where emofx differs from the paper on purpose is listed in docs/encoders.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from safetensors import safe_open
from transformers import (
    AutoProcessor,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    WhisperFeatureExtractor,
)
from transformers import Qwen2AudioEncoder as AudioTower
from transformers.masking_utils import create_bidirectional_mask

from emofx.encoders.base import Encoder, Pooling
from emofx.encoders.hf_loading import (
    preprocessor_sampling_rate,
    resolve_file,
    resolve_snapshot,
)
from emofx.encoders.melspec import float32_features
from emofx.errors import EmofxError

AUDIO_PREFIX = "audio_tower."
INDEX_FILE = "model.safetensors.index.json"
# The paper-parity prompt. NOT verified against the paper (its text does not print the prompt):
# the Qwen2-Audio-7B model card's captioning prompt. <|AUDIO|> is expanded to the audio tokens;
# only those are pooled, and they see only "<|audio_bos|>" before them (causal attention), so the
# instruction after the audio does not change the embedding.
PAPER_PARITY_PROMPT = "<|audio_bos|><|AUDIO|><|audio_eos|>Generate the caption in English:"
PAPER_PARITY_DTYPE = torch.float16
Representation = Literal["encoder", "decoder"]


class Qwen2AudioCheckpointError(EmofxError, ValueError):
    """A Qwen2-Audio checkpoint whose audio tower cannot be loaded as published."""


def audio_tower_shards(weight_map: dict[str, str], source: str) -> list[str]:
    """Shard files that hold at least one ``audio_tower.*`` tensor, in order."""
    shards = sorted({shard for key, shard in weight_map.items() if key.startswith(AUDIO_PREFIX)})
    if not shards:
        raise Qwen2AudioCheckpointError(f"{source}: no {AUDIO_PREFIX}* tensors in its weight_map")
    return shards


def load_audio_tower(
    model: str, revision: str | None = None
) -> tuple[AudioTower, WhisperFeatureExtractor]:
    """The frozen float32 audio encoder of a Qwen2-Audio checkpoint and its feature extractor."""
    config = Qwen2AudioConfig.from_pretrained(
        resolve_file(model, "config.json", revision=revision).parent
    )
    extractor = WhisperFeatureExtractor.from_pretrained(
        resolve_file(model, "preprocessor_config.json", revision=revision).parent
    )
    index_path = resolve_file(model, INDEX_FILE, revision=revision)
    weight_map = json.loads(index_path.read_text())["weight_map"]
    state = {}
    for shard in audio_tower_shards(weight_map, str(index_path)):
        with safe_open(resolve_file(model, shard, revision=revision), framework="pt") as f:
            for key in f.keys():
                if key.startswith(AUDIO_PREFIX):
                    state[key.removeprefix(AUDIO_PREFIX)] = f.get_tensor(key).float()
    audio_config = config.audio_config
    audio_config.tie_last_hidden_states = False  # keep the last layer's own output
    with torch.device("meta"):
        tower = AudioTower(audio_config)
    try:
        tower.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise Qwen2AudioCheckpointError(
            f"{index_path.parent}: audio_tower tensors do not match Qwen2AudioEncoder: {exc}"
        ) from exc
    return tower.eval().requires_grad_(False), extractor


def load_full_model(
    model: str, revision: str | None = None
) -> tuple[Qwen2AudioForConditionalGeneration, AutoProcessor]:
    """The whole Qwen2-Audio model in fp16 (language model included) and its processor."""
    directory = resolve_snapshot(model, revision=revision)
    full = Qwen2AudioForConditionalGeneration.from_pretrained(directory, dtype=PAPER_PARITY_DTYPE)
    return full.eval().requires_grad_(False), AutoProcessor.from_pretrained(directory)


class Qwen2AudioEncoder(Encoder):
    """Qwen2-Audio audio-encoder layers (or the decoder's last state) per window of <= 30 s."""

    name = "qwen2_audio"
    sample_rate = 16_000

    def __init__(
        self,
        model: str = "Qwen/Qwen2-Audio-7B",
        revision: str | None = None,
        representation: Representation = "encoder",
        prompt: str = PAPER_PARITY_PROMPT,
        window_s: float = 30.0,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 4,
    ) -> None:
        """``prompt`` is used by ``representation="decoder"`` only."""
        super().__init__(window_s, hop_s, pooling, window_batch_size)
        self.source = model
        self.revision = revision
        self.representation = representation
        self.prompt = prompt
        if representation == "encoder":
            self.model, self.extractor = load_audio_tower(model, revision)
        elif representation == "decoder":
            if not torch.cuda.is_available():
                raise RuntimeError(
                    "Qwen2-Audio representation='decoder' (paper parity: mean of the language "
                    "model's last hidden state over the audio tokens) runs the full 7B model and "
                    "needs a CUDA GPU (~16 GB in fp16); none is available. Use "
                    "representation='encoder' on CPU."
                )
            self.model, self.processor = load_full_model(model, revision)
            self.extractor = self.processor.feature_extractor
        else:
            raise ValueError(
                f"representation must be 'encoder' or 'decoder', got {representation!r}"
            )
        self.sample_rate = self.extractor.sampling_rate
        max_s = self.extractor.n_samples / self.extractor.sampling_rate
        if not 0 < window_s <= max_s:
            raise ValueError(
                f"window_s={window_s} must be in (0, {max_s}]: Qwen2-Audio encodes at most "
                f"{max_s:g} s at once"
            )

    @classmethod
    def config_sample_rate(cls, init_args: Mapping[str, Any]) -> int:
        return preprocessor_sampling_rate(
            cls.init_arg(init_args, "model"), revision=cls.init_arg(init_args, "revision")
        )

    def layer_names(self) -> list[str]:
        if self.representation == "decoder":
            return ["decoder_last"]
        n = self.model.config.encoder_layers
        return ["conv_embed", *(f"layer_{i:02d}" for i in range(1, n + 1)), "output"]

    def window_layer_dims(self) -> list[int]:
        if self.representation == "decoder":
            return [self.model.config.text_config.hidden_size]
        return [self.model.config.d_model] * (self.model.config.encoder_layers + 2)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "model": self.source,
            "revision": self.revision,
            "representation": self.representation,
            **({"prompt": self.prompt} if self.representation == "decoder" else {}),
        }

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A clip shorter than the window reaches the feature extractor at its real length: its
        attention mask then marks the padding, which the encoder masks and the means skip."""
        audio = [w.float().cpu().numpy() for w in windows]
        if self.representation == "decoder":
            return [self._decoder_mean(audio)]
        with float32_features(self.device):  # the batch's log-mel in torch, on the device
            features = self.extractor(
                audio,
                sampling_rate=self.sample_rate,
                padding="max_length",
                return_attention_mask=True,
                return_tensors="pt",
                device=str(self.device),
            )
        return self._encoder_means(
            features["input_features"].to(self.device, self.model.dtype, non_blocking=True),
            features["attention_mask"].to(self.device, non_blocking=True),
        )

    def _encoder_means(self, mels: torch.Tensor, frame_mask: torch.Tensor) -> list[torch.Tensor]:
        """Masked forward as in ``Qwen2AudioModel.forward``; time means over valid frames only."""
        lengths, pooled_lengths = self.model._get_feat_extract_output_lengths(frame_mask.sum(-1))
        n_positions = self.model.config.max_source_positions
        positions = torch.arange(n_positions, device=mels.device)
        valid = (positions[None] < lengths[:, None]).to(mels.dtype)
        mask = create_bidirectional_mask(
            config=self.model.config,
            inputs_embeds=mels.new_zeros(mels.shape[0], n_positions, 1),
            attention_mask=valid.long(),
        )
        out = self.model(mels, attention_mask=mask, output_hidden_states=True)
        means = [_masked_mean(state, valid) for state in out.hidden_states]
        pooled_positions = positions[: out.last_hidden_state.shape[1]]
        pooled_valid = (pooled_positions[None] < pooled_lengths[:, None]).to(mels.dtype)
        return [*means, _masked_mean(out.last_hidden_state, pooled_valid)]

    def _decoder_mean(self, audio: list) -> torch.Tensor:
        """Mean of the last hidden state over each item's audio tokens (their count follows the
        clip's real length: the processor reads it from the feature extractor's mask)."""
        with float32_features(self.device):
            inputs = self.processor(
                text=[self.prompt] * len(audio),
                audio=audio,
                sampling_rate=self.sample_rate,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
        hidden = self.model.model(**inputs).last_hidden_state.float()
        audio_tokens = (inputs["input_ids"] == self.model.config.audio_token_id) & inputs[
            "attention_mask"
        ].bool()
        return _masked_mean(hidden, audio_tokens.float())


def _masked_mean(states: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``[n, time, dim]`` averaged over the time steps where ``valid`` ``[n, time]`` is 1."""
    weights = valid.unsqueeze(-1)
    return (states * weights).sum(1) / weights.sum(1).clamp_min(1)
