"""dvc.yaml's code dependencies from the import graph of each stage's command.

A stage must rerun when code it runs changes (a missing dep serves stale results) and only then
(a dep on code it never imports re-decodes or re-embeds for nothing). The code a stage runs is
`emofx <stage>`: its ``cmd_<stage>`` function in cli.py, the cli helpers it calls, every emofx
module they import (at module level or inside functions), transitively, and the classes its
LightningCLI configs name. A package folder stands for its files when the stage runs all of them.

    python scripts/dvc_deps.py          # print each stage's code deps
    python scripts/dvc_deps.py --write  # rewrite them in dvc.yaml (other deps and comments kept)

tests/test_dvc_deps.py fails when dvc.yaml differs from what this computes.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
CLI = SRC / "emofx" / "cli.py"
# The LightningCLI configs a stage instantiates (their class_path modules are its code too).
CONFIGS = {
    "rates": "embed.*.yaml",
    "embed": "embed.*.yaml",
    "probe": "probe.mlp.yaml",
    "systems": "train.*.yaml",
}


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(node: ast.AST, package: str) -> set[str]:
    """emofx modules imported anywhere under ``node`` (``from a import b``: ``a.b`` if a module)."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            found |= {a.name for a in sub.names if a.name.startswith("emofx")}
        elif isinstance(sub, ast.ImportFrom):
            base = sub.module or ""
            if sub.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1])
                base = f"{base}.{sub.module}" if sub.module else base
            if not base.startswith("emofx"):
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in sub.names if module_file(f"{base}.{a.name}")}
    return {m for m in found if module_file(m)}


def closure(roots: set[str]) -> set[Path]:
    """Files of ``roots`` and everything they import, with the packages' ``__init__`` files."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            prefix = ".".join(parts[:i])
            if prefix in seen or module_file(prefix) is None:
                continue
            seen.add(prefix)
            path = module_file(prefix)
            package = prefix if path.name == "__init__.py" else prefix.rpartition(".")[0]
            todo += imported_modules(ast.parse(path.read_text()), package)
    return {module_file(m) for m in seen} | {CLI}  # cli.py: only the functions walked above


def stage_roots(stage: str) -> set[str]:
    """Modules `emofx <stage>` imports: cli top level, cmd_<stage> and the cli helpers it calls."""
    tree = ast.parse(CLI.read_text())
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    roots = set().union(*(imported_modules(n, "emofx") for n in top))
    todo, done = [f"cmd_{stage}"], set()
    while todo:
        func = functions[todo.pop()]
        done.add(func.name)
        roots |= imported_modules(func, "emofx")
        called = {
            n.func.id
            for n in ast.walk(func)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        todo += [c for c in called if c in functions and c not in done]
    for pattern in [CONFIGS[stage]] if stage in CONFIGS else []:
        for config in (REPO / "lightning_configs").glob(pattern):
            text = yaml.safe_load(config.read_text())
            for section in ("model", "data"):
                class_path = (text.get(section) or {}).get("class_path", "")
                if class_path.startswith("emofx"):
                    roots.add(class_path.rpartition(".")[0])
    return roots


def stage_command(stage: dict) -> str:
    """``emofx <command> …`` of a stage (``foreach`` stages: of their ``do`` body)."""
    return stage.get("do", stage)["cmd"].split()[1]


def used_files(command: str) -> set[Path]:
    return closure(stage_roots(command))


def code_deps(command: str) -> list[str]:
    """Minimal dep list: a folder where the stage runs every .py file under it, else files."""
    used = used_files(command)
    src = SRC / "emofx"

    def covered(folder: Path) -> bool:
        code = list(folder.rglob("*.py"))
        if not code:  # package data (templates): a dep of the modules beside it that name it
            return any(p.parent == folder.parent and folder.name in p.read_text() for p in used)
        return all(p in used for p in code)

    deps: list[str] = []

    def visit(folder: Path) -> None:
        for child in sorted(folder.iterdir()):
            if child.is_dir() and child.name != "__pycache__":
                if covered(child):
                    deps.append(child.relative_to(REPO).as_posix())
                elif any(p in used for p in child.rglob("*.py")):
                    visit(child)
            elif child.suffix == ".py" and child in used:
                deps.append(child.relative_to(REPO).as_posix())

    visit(src)
    return deps


def write(dvc_yaml: Path) -> None:
    """Replace the ``src/`` deps of every stage in ``dvc_yaml`` (ruamel keeps the comments)."""
    from ruamel.yaml import YAML

    ruamel = YAML()
    ruamel.preserve_quotes = True
    ruamel.width = 100
    ruamel.indent(mapping=2, sequence=4, offset=2)
    doc = ruamel.load(dvc_yaml.read_text())
    for stage in doc["stages"].values():
        body = stage.get("do", stage)
        deps = body.setdefault("deps", [])
        others = [d for d in deps if not str(d).startswith("src/")]
        deps[:] = others + code_deps(stage_command(stage))
    with dvc_yaml.open("w") as f:
        ruamel.dump(doc, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite dvc.yaml's code deps")
    args = parser.parse_args()
    if args.write:
        write(REPO / "dvc.yaml")
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        print(f"{name}: {' '.join(code_deps(stage_command(stage)))}")


if __name__ == "__main__":
    main()
