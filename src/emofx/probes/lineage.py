"""DVC lineage of the probe stage: the stage hash, its dependencies' hashes, the dataset input.

Under ``dvc repro`` / ``dvc exp run`` the stage's dependencies are hashed by DVC itself (cheap: DVC
keeps a state cache), so an MLflow run names exactly the data version it was fitted on. Outside a
DVC project (tests, ad-hoc runs) the embedding store's own inputs hash stands in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from emofx.embed.store import EmbeddingStore


@dataclass(frozen=True)
class StageHashes:
    """DVC's view of one stage: its md5 and the hash of each path dependency."""

    root: Path
    stage: str
    deps: dict[str, str]  # path as written in dvc.yaml → md5 (``….dir`` for folders)

    def tags(self) -> dict[str, str]:
        return {"dvc.stage_hash": self.stage} | {f"dvc.dep.{p}": h for p, h in self.deps.items()}

    def hash_of(self, path: Path) -> str | None:
        target = path.resolve()
        return next((h for p, h in self.deps.items() if (self.root / p).resolve() == target), None)


def dvc_stage_hashes(stage: str, root: str | Path = ".") -> StageHashes | None:
    """Hashes of a dvc.yaml stage as DVC computes them; ``None`` outside a DVC project."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            (found,) = repo.stage.collect(f"{Path(repo.root_dir) / 'dvc.yaml'}:{stage}")
            found.save_deps(allow_missing=True)
            deps = {
                dep.def_path: dep.hash_info.value
                for dep in found.deps
                if isinstance(dep.hash_info.value, str)  # params deps: the params hash covers them
            }
            return StageHashes(Path(repo.root_dir), found.compute_md5() or "", deps)
    except NotDvcRepoError:
        return None
    except DvcException as exc:
        raise ValueError(f"dvc stage {stage!r}: cannot hash its dependencies ({exc})") from exc


def embeddings_dataset(store: EmbeddingStore, name: str, hashes: StageHashes | None) -> MetaDataset:
    """The embedding store as an MLflow dataset; digest = its DVC hash (else its inputs hash)."""
    digest = hashes.hash_of(store.root) if hashes is not None else None
    digest = digest or store.meta().get("inputs_hash") or "unversioned"
    with warnings.catch_warnings():  # MLflow registers the local source under two schemes
        warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways.*")
        source = resolve_dataset_source(store.root.resolve().as_uri())
    return MetaDataset(source, name=name, digest=digest[:36])
