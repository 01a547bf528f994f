"""Resolve a Hugging Face model given as a Hub id or a local directory, offline first.

A local directory is used as is. A Hub id is looked up in the Hugging Face cache (``HF_HOME`` /
``HF_HUB_CACHE``) and downloaded only when the Hub can be reached and neither ``HF_HUB_OFFLINE`` nor
``EMOFX_OFFLINE`` is set.
Files are fetched one by one, so a caller can take a few tensors out of a multi-shard checkpoint
without downloading the rest. Every failure ends in one :class:`ModelNotAvailableError` that says
which model and file are missing and how to point the encoder at a local copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path

from huggingface_hub import constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from emofx.encoders.weights import OFFLINE_ENV, offline
from emofx.errors import EmofxError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelNotAvailableError(EmofxError, FileNotFoundError):
    """A model (or one of its files) that is neither on disk nor obtainable from the Hub."""


def _from_hub(repo_id: str, what: str, revision: str | None, fetch: Callable[[], str]) -> Path:
    try:
        return Path(fetch())
    except HFValidationError as exc:
        raise ModelNotAvailableError(
            f"model {repo_id!r} is neither an existing local directory nor a valid Hugging Face "
            f"Hub id ({exc})"
        ) from exc
    except LocalEntryNotFoundError as exc:  # before EntryNotFoundError: it is a subclass
        why = (
            f"{OFFLINE_ENV} is set"
            if offline()
            else "HF_HUB_OFFLINE is set"
            if constants.HF_HUB_OFFLINE
            else "the Hub cannot be reached"
        )
        raise ModelNotAvailableError(
            f"model {repo_id!r}: {what} is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and {why}. Download it once on a machine with network "
            f"(`hf download {repo_id}`), then either set `model:` in the encoder's "
            f"lightning_configs/embed.<encoder>.yaml to that local directory, or point HF_HOME "
            f"(or HF_HUB_CACHE) at the cache that holds it and set HF_HUB_OFFLINE=1."
        ) from exc
    except EntryNotFoundError as exc:
        raise ModelNotAvailableError(f"model {repo_id!r} on the Hub has no {what}") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelNotAvailableError(
            f"model {repo_id!r} (revision {revision or 'main'}) is not on the Hugging Face Hub "
            f"or needs a login: {exc}"
        ) from exc


def resolve_file(model: str | PathLike, filename: str, *, revision: str | None = None) -> Path:
    """Local path of ``filename`` of ``model`` (a local directory or a Hub id)."""
    local = Path(model).expanduser()
    if local.is_dir():
        path = local / filename
        if not path.is_file():
            raise ModelNotAvailableError(f"model directory {local} has no {filename}")
        return path
    repo_id = str(model)
    return _from_hub(
        repo_id,
        filename,
        revision,
        lambda: hf_hub_download(repo_id, filename, revision=revision, local_files_only=offline()),
    )


def resolve_snapshot(model: str | PathLike, *, revision: str | None = None) -> Path:
    """A directory with every file of ``model`` (the whole Hub repository for a Hub id)."""
    local = Path(model).expanduser()
    if local.is_dir():
        return local
    repo_id = str(model)
    return _from_hub(
        repo_id,
        "a snapshot",
        revision,
        lambda: snapshot_download(repo_id, revision=revision, local_files_only=offline()),
    )


def preprocessor_sampling_rate(model: str | PathLike, *, revision: str | None = None) -> int:
    """``sampling_rate`` of a checkpoint's ``preprocessor_config.json`` (its feature extractor's
    input rate), read without loading anything else."""
    path = resolve_file(model, "preprocessor_config.json", revision=revision)
    return int(json.loads(path.read_text())["sampling_rate"])


def resolve_first(
    model: str | PathLike, filenames: Sequence[str], *, revision: str | None = None
) -> Path:
    """The first of ``filenames`` that ``model`` has (e.g. safetensors before a pickle)."""
    errors = []
    for filename in filenames:
        try:
            return resolve_file(model, filename, revision=revision)
        except ModelNotAvailableError as exc:
            errors.append(str(exc))
    raise ModelNotAvailableError(
        f"model {str(model)!r} has none of {', '.join(filenames)}: " + " | ".join(errors)
    )


def resolve_model_dir(
    model: str | PathLike,
    files: Sequence[str] = ("config.json",),
    *,
    weights: Sequence[str] = WEIGHT_FILES,
    revision: str | None = None,
) -> Path:
    """Directory holding ``files`` and one single-file checkpoint of ``model``.

    For a Hub id this is the cache snapshot folder, which ``from_pretrained`` reads offline.
    """
    paths = [resolve_file(model, name, revision=revision) for name in files]
    paths.append(resolve_first(model, weights, revision=revision))
    return paths[0].parent
