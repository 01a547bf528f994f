"""MERT-v1 (m-a-p) music encoder, loaded into transformers' own HuBERT classes.

The published checkpoints are ``MERTModel``/``MERTConfig`` (``model_type: mert_model``, remote
code). ``MERTModel`` subclasses ``HubertModel`` and keeps its module names, so its state dict
loads into ``HubertModel`` once the config is translated. MERT's extra config fields:

- ``feature_extractor_cqt``: an nnAudio CQT front end concatenated to the CNN features (changes the
  projection width and adds CQT kernel buffers). MERT-v1 ships it off; a checkpoint with it on is
  refused.
- ``deepnorm``: scaled residuals (``HubertEncoder_extend``); off in MERT-v1, refused when on.
- ``attention_relax``: only used inside the deepnorm encoder; there it subtracts the row maximum
  before the softmax (a numerical-stability rewrite that leaves the softmax unchanged).
- ``sample_rate``: the model's input rate (24 kHz for MERT-v1), checked against the preprocessor.

Key mapping: the checkpoints store the positional convolution's weight norm as ``weight_g`` /
``weight_v`` (torch<2.1 naming); transformers renames them to
``parametrizations.weight.original0/1`` while loading. Every other key loads unchanged; any
other missing or unexpected key is an error.

Input normalisation is the checkpoint's own ``preprocessor_config.json`` (Wav2Vec2FeatureExtractor,
``do_normalize``: zero mean, unit variance per window). All hidden states are exposed: the input to
the first transformer layer plus every layer's output (13 for MERT-v1-95M, 25 for 330M; the last one
after the final layer norm, as in the MERT release).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

from emofx.encoders.base import Encoder, Pooling, encode_by_length
from emofx.encoders.hf_loading import resolve_file, resolve_model_dir
from emofx.errors import EmofxError

# MERTConfig fields that HubertConfig does not know, with the only values this loader accepts
# (None: any value, consumed below or irrelevant to inference).
MERT_ONLY_FIELDS = {
    "feature_extractor_cqt": False,
    "deepnorm": False,
    "feature_extractor_cqt_bins": None,
    "attention_relax": None,
    "sample_rate": None,
}
NOT_CONFIG_FIELDS = ("auto_map", "architectures", "model_type")


class MertCheckpointError(EmofxError, ValueError):
    """A MERT checkpoint this loader cannot reproduce faithfully."""


def hubert_config_from_mert(mert: dict, source: str) -> HubertConfig:
    """Translate a MERT-v1 ``config.json`` dict into an equivalent :class:`HubertConfig`."""
    if mert.get("model_type") != "mert_model":
        raise MertCheckpointError(
            f"{source}: model_type {mert.get('model_type')!r} is not a MERT checkpoint "
            f"(expected 'mert_model')"
        )
    fields = dict(mert)
    for key, required in MERT_ONLY_FIELDS.items():
        value = fields.pop(key, None)
        if required is not None and value not in (None, required):
            raise MertCheckpointError(
                f"{source}: {key}={value!r} is not supported (only {required!r}): this MERT "
                f"variant needs MERT's remote code, which emofx does not run"
            )
    for key in NOT_CONFIG_FIELDS:
        fields.pop(key, None)
    # MERT reports the final layer-normed state last (transformers 4.x semantics).
    return HubertConfig(**fields, tie_last_hidden_states=True)


def mert_sample_rate(directory: Path, mert: dict[str, Any]) -> int:
    """The checkpoint's input rate: config ``sample_rate``, checked against the preprocessor."""
    preprocessor = json.loads((directory / "preprocessor_config.json").read_text())
    sample_rate = int(mert.get("sample_rate", preprocessor["sampling_rate"]))
    if preprocessor["sampling_rate"] != sample_rate:
        raise MertCheckpointError(
            f"{directory}: preprocessor sampling_rate {preprocessor['sampling_rate']} != model "
            f"sample_rate {sample_rate}"
        )
    return sample_rate


def mert_config_dir(model: str, revision: str | None) -> Path:
    """Directory holding the checkpoint's config.json and preprocessor_config.json."""
    resolve_file(model, "preprocessor_config.json", revision=revision)
    return resolve_file(model, "config.json", revision=revision).parent


def load_mert(
    model: str, revision: str | None = None
) -> tuple[HubertModel, Wav2Vec2FeatureExtractor, int]:
    """Load a MERT-v1 checkpoint: (frozen HuBERT model, feature extractor, sample rate)."""
    directory = resolve_model_dir(
        model, ("config.json", "preprocessor_config.json"), revision=revision
    )
    mert = json.loads((directory / "config.json").read_text())
    config = hubert_config_from_mert(mert, str(directory / "config.json"))
    hubert, info = HubertModel.from_pretrained(
        directory, config=config, dtype=torch.float32, output_loading_info=True
    )
    problems = {k: sorted(info[k]) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(problems.values()):
        raise MertCheckpointError(
            f"{directory}: weights do not match the MERT/HuBERT architecture: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items() if v)
        )
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(directory)
    sample_rate = mert_sample_rate(directory, mert)
    return hubert.eval().requires_grad_(False), extractor, sample_rate


class MertEncoder(Encoder):
    """MERT-v1 hidden states, time-averaged per window (default 5-s windows, MERT's context)."""

    name = "mert"

    def __init__(
        self,
        model: str = "m-a-p/MERT-v1-95M",
        revision: str | None = None,
        window_s: float = 5.0,
        hop_s: float | None = None,
        pooling: Pooling = "mean",
        window_batch_size: int = 16,
    ) -> None:
        super().__init__(window_s, hop_s, pooling, window_batch_size)
        self.source = model
        self.revision = revision
        self.model, self.extractor, self.sample_rate = load_mert(model, revision)

    @classmethod
    def config_sample_rate(cls, init_args: Mapping[str, Any]) -> int:
        model, revision = cls.init_arg(init_args, "model"), cls.init_arg(init_args, "revision")
        directory = mert_config_dir(model, revision)
        return mert_sample_rate(directory, json.loads((directory / "config.json").read_text()))

    def layer_names(self) -> list[str]:
        return [f"layer_{i:02d}" for i in range(self.model.config.num_hidden_layers + 1)]

    def window_layer_dims(self) -> list[int]:
        return [self.model.config.hidden_size] * (self.model.config.num_hidden_layers + 1)

    def describe(self) -> dict:
        return {**super().describe(), "model": self.source, "revision": self.revision}

    def encode_windows(self, windows: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A clip shorter than a window is encoded (and normalised) at its real length: the
        same as a padded batch with an attention mask, without padding frames in the mean."""
        return encode_by_length(windows, self._encode)

    def _encode(self, windows: torch.Tensor) -> list[torch.Tensor]:
        """The feature extractor's per-window zero-mean unit-variance normalisation (its
        ``zero_mean_unit_var_norm``), on the device for the whole batch: no per-window numpy."""
        x = windows.to(self.device, torch.float32, non_blocking=True)
        if self.extractor.do_normalize:
            centred = x - x.mean(-1, keepdim=True)
            x = centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + 1e-7)
        out = self.model(x.to(self.model.dtype), output_hidden_states=True)
        return [state.mean(dim=1) for state in out.hidden_states]
