"""Raw datasets under DVC control (``emofx data add``) and their content hash for lineage.

``data_add`` tracks a dataset folder with DVC without a second copy of the data: a folder outside
the repository is first mirrored into ``data/raw/<name>`` with hard links, and the add itself runs
with hard links first in DVC's cache link types, so the original, the workspace copy and the cache
share one inode per file (DVC then makes them read-only; ``dvc unprotect`` to edit). Where hard
links are impossible (another filesystem) DVC falls back to the repository's link types. The
``.dvc`` file written next to the folder holds the hash; commit it, and ``dvc push`` (done here when
a default remote is configured) lets a fresh clone ``dvc pull`` the data back.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from emofx.errors import EmofxError

RAW_DIR = Path("data") / "raw"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class DataVersioningError(EmofxError, RuntimeError):
    """A dataset could not be put under (or looked up in) DVC; the message says why."""


def data_add(dataset_name: str, path: str | Path, repo_root: str | Path, push: bool = True) -> str:
    """Track ``path`` with DVC as dataset ``dataset_name``; return its DVC hash (``md5``).

    A ``path`` inside ``repo_root`` is tracked where it is; one outside is mirrored (hard links,
    or copies across filesystems) into ``data/raw/<dataset_name>`` first.
    """
    from dvc.repo import Repo  # heavy import, only needed here

    if not _NAME.fullmatch(dataset_name):
        raise ValueError(
            f"dataset name {dataset_name!r} must be letters, digits, '.', '_' or '-' "
            "(it becomes a folder name)"
        )
    repo_root = Path(repo_root).resolve()
    source = Path(path).expanduser().resolve()
    if not (repo_root / ".dvc").is_dir():
        raise DataVersioningError(f"{repo_root}: not a DVC repository (run `dvc init` there)")
    if not source.exists():
        raise FileNotFoundError(f"{source}: dataset path not found")
    if source == repo_root or repo_root in source.parents:
        target = source
    else:
        target = repo_root / RAW_DIR / dataset_name
        if target.exists():
            raise DataVersioningError(
                f"{target} already exists; to re-version it run `emofx data add {dataset_name} "
                f"{target.relative_to(repo_root)}`, or remove it first"
            )
        _mirror_with_links(source, target)

    with Repo(str(repo_root)) as repo:
        link_types = list(repo.cache.local.cache_types)
        remote = repo.config["core"].get("remote")
    overrides = {}
    if "hardlink" in link_types:  # hard links first: the add itself then copies nothing
        overrides = {"cache": {"type": ["hardlink", *(t for t in link_types if t != "hardlink")]}}
    with Repo(str(repo_root), config=overrides) as repo:
        [stage] = repo.add(str(target))
        digest = stage.outs[0].hash_info.value
        if push and remote:
            repo.push(targets=[str(target.with_name(f"{target.name}.dvc"))])
    return digest


def dataset_hash(path: str | Path) -> str:
    """The DVC hash of a dataset folder or file, for lineage tags and ``mlflow.log_input``.

    Taken from ``<path>.dvc`` or the repository's ``dvc.lock`` when DVC tracks the path (as
    recorded there), else computed the way DVC computes it (``md5``; ``.dir`` for folders) over
    the files a loader may read: dangling or escaping symlinks, unreadable files and non-UTF-8
    names (which the loaders reject, and on which DVC itself fails) are left out.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path}: dataset path not found")
    recorded = _recorded_hash(path)
    if recorded is not None:
        return recorded
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db.local import LocalHashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    ignore = _OnlyUsableFiles(path) if path.is_dir() else None
    with tempfile.TemporaryDirectory() as tmp:
        _, _, obj = build(
            LocalHashFileDB(fs, tmp), str(path), fs, "md5", dry_run=True, ignore=ignore
        )
    return obj.hash_info.value


class _OnlyUsableFiles:
    """A dvc-data ``Ignore`` whose walk skips the files :func:`resolve_under` refuses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def walk(self, fs, path: str, **kwargs):
        from emofx.datasets.files import resolve_under

        for folder, dirs, files in fs.walk(path, **kwargs):
            rel = Path(folder).relative_to(self.root)
            usable = [
                f for f in files if not isinstance(resolve_under(self.root, str(rel / f)), str)
            ]
            yield folder, dirs, usable


def _recorded_hash(path: Path) -> str | None:
    dvc_file = path.with_name(f"{path.name}.dvc")
    if dvc_file.is_file():
        for out in _load_yaml(dvc_file).get("outs", []):
            if out.get("path") == path.name and "md5" in out:
                return str(out["md5"])
    repo_root = next((p for p in path.parents if (p / ".dvc").is_dir()), None)
    lock = repo_root / "dvc.lock" if repo_root else None
    if lock is not None and lock.is_file():
        rel = path.relative_to(repo_root).as_posix()
        for stage in _load_yaml(lock).get("stages", {}).values():
            for out in stage.get("outs", []):
                if out.get("path") == rel and "md5" in out:
                    return str(out["md5"])
    return None


def _load_yaml(path: Path) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataVersioningError(f"{path}: not valid YAML ({exc})") from exc
    return loaded if isinstance(loaded, dict) else {}


def _mirror_with_links(source: Path, target: Path) -> None:
    """Recreate ``source`` at ``target`` with hard links (copies where linking is impossible)."""
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(source, target)
        return
    for folder, _, files in os.walk(source):
        out = target / Path(folder).relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            _link_or_copy(Path(folder) / name, out / name)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(src, dst)
