"""LAION CLAP audio tower (HTS-AT) with its projection, e.g. ``laion/larger_clap_music``.

Only the audio half of the checkpoint is materialised (``ClapAudioModelWithProjection``); the text
tower's tensors are skipped. Windows are exactly the feature extractor's ``max_length_s`` (10 s)
or shorter, so its random crop (``rand_trunc`` on longer input) never fires; a clip shorter than a
window reaches the extractor at its real length and is padded by the extractor's own rule
(``repeatpad``: tiled, then zero-padded, as in training). :class:`ClapFrontEnd` computes that
extractor's log-mel (Slaney filterbank, dB) in torch on the model's device, one batched STFT
instead of a numpy spectrogram per window. The working rate is the extractor's
``sampling_rate`` (48 kHz). Fused checkpoints (``enable_fusion``) are refused: their feature
extractor marks a random item of each batch as "longer", which would leak randomness in.

Layers: the patch embedding and each Swin stage's output before its patch merging (token mean:
HTS-AT folds time into the image rows, so tokens mix time and frequency), the pooled audio
embedding, and the L2-normalised projection used for text-audio similarity
(``ClapModel.get_audio_features``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ClapAudioModelWithProjection, ClapConfig, ClapFeatureExtractor

from emofx.encoders.base import Encoder, Pooling
from emofx.encoders.hf_loading import preprocessor_sampling_rate, resolve_model_dir
from emofx.encoders.melspec import MelScale, Spectrogram, float32_features, power_to_db
from emofx.errors import EmofxError


class ClapAudioTower(ClapAudioModelWithProjection):
    """The audio half of a full ``ClapModel`` checkpoint; its text-side tensors are skipped."""

    _keys_to_ignore_on_load_unexpected = [r"^text_model\.", r"^text_projection\.", r"^logit_scale_"]


class ClapCheckpointError(EmofxError, ValueError):
    """A CLAP checkpoint this encoder cannot run deterministically or faithfully."""


def load_clap_audio(
    model: str, revision: str | None = None
) -> tuple[ClapAudioTower, ClapFeatureExtractor]:
    """The frozen audio tower + projection of a CLAP checkpoint and its feature extractor."""
    directory = resolve_model_dir(
        model, ("config.json", "preprocessor_config.json"), revision=revision
    )
    config = ClapConfig.from_pretrained(directory)
    if config.audio_config.enable_fusion:
        raise ClapCheckpointError(
            f"{directory}: fused CLAP checkpoints (audio_config.enable_fusion=true) are not "
            f"supported; use an unfused one such as laion/larger_clap_music"
        )
    audio, info = ClapAudioTower.from_pretrained(
        directory, config=config.audio_config, dtype=torch.float32, output_loading_info=True
    )
    problems = {k: sorted(info[k]) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(problems.values()):
        raise ClapCheckpointError(
            f"{directory}: weights do not match the CLAP audio tower: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items() if v)
        )
    extractor = ClapFeatureExtractor.from_pretrained(directory)
    return audio.eval().requires_grad_(False), extractor


class ClapFrontEnd(nn.Module):
    """``ClapFeatureExtractor`` without fusion, in torch: ``[batch, samples]`` windows of one
    length → ``input_features`` ``[batch, 1, frames, n_mels]``. Shorter windows are padded by
    the extractor's rule (``repeatpad``: tiled whole, then zeros; ``repeat``: tiled and cut;
    else zeros); the filterbank is the extractor's own ``mel_filters_slaney``."""

    def __init__(self, extractor: ClapFeatureExtractor) -> None:
        super().__init__()
        self.max_length = extractor.nb_max_samples
        self.padding = extractor.padding
        self.spectrogram = Spectrogram(extractor.fft_window_size, extractor.hop_length)
        self.mel = MelScale(torch.from_numpy(extractor.mel_filters_slaney).float())

    def pad(self, windows: torch.Tensor) -> torch.Tensor:
        n = windows.shape[-1]
        if n >= self.max_length:
            return windows
        if self.padding == "repeat":
            windows = windows.repeat(1, self.max_length // n + 1)[:, : self.max_length]
        elif self.padding == "repeatpad":
            windows = windows.repeat(1, self.max_length // n)
        return F.pad(windows, (0, self.max_length - windows.shape[-1]))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        log_mel = power_to_db(self.mel(self.spectrogram(self.pad(windows.float()))))
        return log_mel.transpose(-1, -2).unsqueeze(1)


class ClapEncoder(Encoder):
    """CLAP audio-tower stages, pooled embedding and projected embedding per 10-s window."""

    name = "clap"
    sample_rate = 48_000

    def __init__(
        self,
        model: str = "laion/larger_clap_music",
        revision: str | None = None,
        window_s: float | None = None,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 8,
    ) -> None:
        """``window_s`` defaults to the checkpoint's ``max_length_s`` and may not exceed it."""
        audio, extractor = load_clap_audio(model, revision)
        max_s = extractor.nb_max_samples / extractor.sampling_rate
        window_s = max_s if window_s is None else window_s
        if not 0 < window_s <= max_s:
            raise ValueError(
                f"window_s={window_s} must be in (0, {max_s}] for {model}: longer windows would "
                f"be randomly cropped by the CLAP feature extractor"
            )
        super().__init__(window_s, hop_s, pooling, window_batch_size)
        self.source = model
        self.revision = revision
        self.model = audio
        self.frontend = ClapFrontEnd(extractor)
        self.sample_rate = extractor.sampling_rate

    @classmethod
    def config_sample_rate(cls, init_args: Mapping[str, Any]) -> int:
        return preprocessor_sampling_rate(
            cls.init_arg(init_args, "model"), revision=cls.init_arg(init_args, "revision")
        )

    def _stage_dims(self) -> list[int]:
        config = self.model.config
        return [config.patch_embeds_hidden_size * 2**i for i in range(len(config.depths))]

    def layer_names(self) -> list[str]:
        stages = [f"stage_{i + 1}" for i in range(len(self.model.config.depths))]
        return ["patch_embed", *stages, "pooled", "projection"]

    def window_layer_dims(self) -> list[int]:
        config = self.model.config
        stages = self._stage_dims()
        return [stages[0], *stages, config.hidden_size, config.projection_dim]

    def describe(self) -> dict:
        return {**super().describe(), "model": self.source, "revision": self.revision}

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A clip shorter than the window is padded its checkpoint's way (``repeatpad`` for the
        LAION checkpoints, as in training), never cropped: windows are at most max_length_s."""
        with float32_features(self.device):
            features = self.frontend(torch.stack(list(windows)).to(self.device))
        out = self.model.audio_model(
            input_features=features.to(self.model.dtype),
            output_hidden_states=True,
            output_hidden_states_before_downsampling=True,
        )
        # one [batch, channels, height, width] map per stage: average over all tokens
        stages = [state.mean(dim=(2, 3)) for state in out.hidden_states]
        projected = F.normalize(self.model.audio_projection(out.pooler_output), dim=-1)
        return [*stages, out.pooler_output, projected]
