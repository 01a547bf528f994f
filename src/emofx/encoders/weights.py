"""Locating pretrained checkpoints: explicit path → ``$EMOFX_WEIGHTS_DIR`` → user cache → download.

Downloads (only for checkpoints with a published URL and sha256) land in the user cache and are
verified against the sha256 before use. ``EMOFX_OFFLINE=1`` (or ``allow_download=False``) turns
them off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch

from emofx.errors import EmofxError

WEIGHTS_DIR_ENV = "EMOFX_WEIGHTS_DIR"
OFFLINE_ENV = "EMOFX_OFFLINE"
"""Set to 1/true/yes: nothing is downloaded (pretrained weights here, Hub models in hf_loading)."""
_SOTA_TAGGING = "https://github.com/minzwon/sota-music-tagging-models/raw/master/models"


@dataclass(frozen=True)
class WeightsSpec:
    """A known checkpoint: the file name searched for, and where to fetch it (if anywhere)."""

    name: str
    filename: str
    url: str | None = None
    sha256: str | None = None
    source: str = ""  # where a user can get the file by hand


MUSICNN_MTG_JAMENDO = WeightsSpec(
    name="musicnn_mtg_jamendo",
    filename="musicnn_mtg_jamendo.pth",
    url=f"{_SOTA_TAGGING}/jamendo/musicnn/best_model.pth",
    sha256="66280f4859376377c47f64313c7ac889a3201fdb06a01bf6e94ac6e619081bb5",
    source="github.com/minzwon/sota-music-tagging-models (models/jamendo/musicnn/best_model.pth)",
)
MUSICNN_MTAT = WeightsSpec(
    name="musicnn_mtat",
    filename="musicnn_mtat.pth",
    url=f"{_SOTA_TAGGING}/mtat/musicnn/best_model.pth",
    sha256="0a7ac8aa3daab3a1c59cae16a771b0bfa4064ac94502ebc990a5c32a2771e189",
    source="github.com/minzwon/sota-music-tagging-models (models/mtat/musicnn/best_model.pth)",
)
PANNS_CNN14 = WeightsSpec(
    name="panns_cnn14",
    filename="Cnn14_mAP=0.431.pth",
    source="https://zenodo.org/record/3987831 (Cnn14_mAP=0.431.pth)",
)


class WeightsNotFoundError(EmofxError, FileNotFoundError):
    """No usable checkpoint; the message lists where emofx looked and how to point it at one."""


def offline() -> bool:
    """Whether ``$EMOFX_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def user_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("emofx")) / "weights"


def search_dirs() -> list[Path]:
    """Directories searched for a checkpoint's file name, in order."""
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return ([Path(env).expanduser()] if env else []) + [user_cache_dir()]


def resolve_weights(
    spec: WeightsSpec, path: str | Path | None = None, *, allow_download: bool = True
) -> Path:
    """The local file holding ``spec``'s checkpoint.

    ``path`` (a file, or a directory holding ``spec.filename``) wins and is never second-guessed:
    it may be a fine-tuned or test checkpoint. Otherwise the search directories are tried, then a
    verified download into the user cache, unless ``allow_download`` is off or
    ``$EMOFX_OFFLINE`` is set.
    """
    if path is not None:
        path = Path(path).expanduser()
        candidate = path / spec.filename if path.is_dir() else path
        if candidate.is_file():
            return candidate
        raise WeightsNotFoundError(
            f"{spec.name} weights: weights_path={str(path)!r} "
            + (f"holds no {spec.filename!r}" if path.is_dir() else "does not exist")
        )
    for directory in search_dirs():
        if (directory / spec.filename).is_file():
            return directory / spec.filename
    failure = "no download URL is known" if spec.url is None else "downloads are disabled"
    if spec.url is not None and offline():
        failure = f"downloads are disabled (${OFFLINE_ENV} is set)"
    elif spec.url is not None and allow_download:
        try:
            return _download(spec)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError; hash mismatch Runtime
            failure = f"download from {spec.url} failed ({exc})"
    raise WeightsNotFoundError(_not_found_message(spec, failure))


def _download(spec: WeightsSpec) -> Path:
    target = user_cache_dir() / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    # writes to a temp file, checks the sha256 (prefix = the whole digest), then renames
    torch.hub.download_url_to_file(spec.url, str(target), hash_prefix=spec.sha256, progress=False)
    return target


def _not_found_message(spec: WeightsSpec, failure: str) -> str:
    env = os.environ.get(WEIGHTS_DIR_ENV)
    looked = [f"${WEIGHTS_DIR_ENV}={env}" if env else f"${WEIGHTS_DIR_ENV} (unset)"]
    looked.append(str(user_cache_dir()))
    return (
        f"{spec.name} weights {spec.filename!r} not found (looked in: {', '.join(looked)}; "
        f"{failure}). Get the file from {spec.source} and either set "
        f"model.init_args.weights_path in the encoder's lightning config to the file (or its "
        f"directory), or set {WEIGHTS_DIR_ENV} to a directory holding {spec.filename!r}."
    )


def load_checkpoint(path: Path) -> dict:
    """``torch.load`` on CPU, ``weights_only`` (no code execution); clear error on a bad file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError/EOFError for bad files
        raise ValueError(f"{path}: cannot read as a PyTorch checkpoint ({exc})") from exc


def flush_denormals(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Zero float32 values below the smallest normal (|v| < 1.18e-38): denormals are ~20x slower."""
    tiny = torch.finfo(torch.float32).tiny
    return {
        key: value.masked_fill(value.abs() < tiny, 0.0) if value.is_floating_point() else value
        for key, value in state_dict.items()
    }


def load_strict(module: torch.nn.Module, state_dict: dict, path: Path, what: str) -> None:
    """``load_state_dict(strict=True)`` with the file named in the error."""
    if not isinstance(state_dict, dict):
        raise ValueError(
            f"{path}: expected a state dict for {what}, got {type(state_dict).__name__}"
        )
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: not a {what} checkpoint: {exc}") from exc
