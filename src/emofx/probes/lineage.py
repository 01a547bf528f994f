"""DVC lineage of the probe stage: the stage hash, its dependencies' hashes, the dataset input.

Under ``dvc repro`` / ``dvc exp run`` the stage's dependencies are hashed by DVC itself (cheap: DVC
keeps a state cache), so an MLflow run names exactly the data version it was fitted on. Outside a
DVC project (tests, ad-hoc runs) the embedding store's own inputs hash stands in.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from emofx.embed.store import EmbeddingStore


def dvc_stage_hashes(stage: str, root: str | Path = ".") -> dict[str, str]:
    """``{"stage": md5, "<dep path>": md5, …}`` of a dvc.yaml stage; ``{}`` outside a DVC project."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            (found,) = repo.stage.collect(stage)
            found.save_deps(allow_missing=True)
            hashes = {"stage": found.compute_md5() or ""}
            for dep in found.deps:
                value = dep.hash_info.value
                if isinstance(value, str):  # params deps carry dicts: the params hash covers them
                    hashes[str(dep)] = value
            return hashes
    except NotDvcRepoError:
        return {}
    except DvcException as exc:
        raise ValueError(f"dvc stage {stage!r}: cannot hash its dependencies ({exc})") from exc


def lineage_tags(hashes: dict[str, str]) -> dict[str, str]:
    """MLflow tags from :func:`dvc_stage_hashes` (``dvc.stage_hash``, ``dvc.dep.<path>``)."""
    tags = {f"dvc.dep.{path}": value for path, value in hashes.items() if path != "stage"}
    if "stage" in hashes:
        tags["dvc.stage_hash"] = hashes["stage"]
    return tags


def embeddings_dataset(store: EmbeddingStore, name: str, hashes: dict[str, str]) -> MetaDataset:
    """The embedding store as an MLflow dataset; digest = its DVC hash (else its inputs hash)."""
    root = store.root.resolve()
    digest = next(
        (v for p, v in hashes.items() if p != "stage" and Path(p).resolve() == root), None
    )
    digest = digest or store.meta().get("inputs_hash") or "unversioned"
    with warnings.catch_warnings():  # MLflow registers the local source under two schemes
        warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways.*")
        source = resolve_dataset_source(root.as_uri())
    return MetaDataset(source, name=name, digest=digest[:36])
