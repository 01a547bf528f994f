"""Conditions: what one rendering does, fully resolved, with a stable id and a content hash.

Ids: ``clean``, ``<effect>@<level>``, ``chain:<name>``, ``plugin:<name>@<preset>``, each but
``clean`` optionally suffixed ``+lufs`` (loudness-matched to the clean input). The content hash
covers everything that changes the rendered audio (input level, steps with all parameters,
loudness policy, tails, renderer version), not the id: two conditions with equal hashes render
identical audio.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import pedalboard
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from emofx.fx.chains import BUILTIN_CHAINS
from emofx.fx.config import FxParams, InputLevelSpec, format_validation_error
from emofx.fx.effects import check_level, get_effect

RENDERER = f"emofx-fx/1 pedalboard/{pedalboard.__version__}"
"""Part of every content hash: a different pedalboard may render different samples."""
LUFS_SUFFIX = "+lufs"
Kind = Literal["clean", "effect", "chain", "plugin"]

_NAME = r"[a-z0-9][a-z0-9_.-]*"
_ID = re.compile(
    rf"^(?:(?P<clean>clean)|(?P<effect>[a-z0-9_]+)@(?P<level>\d+)|chain:(?P<chain>{_NAME})"
    rf"|plugin:(?P<plugin>{_NAME})@(?P<preset>{_NAME}))(?P<lufs>\+lufs)?$"
)


class ConditionId(NamedTuple):
    """A parsed condition id."""

    kind: Kind
    name: str
    """``clean``, the effect, chain or plugin name."""
    level: int | None = None
    preset: str | None = None
    loudness_match: bool = False


def parse_condition_id(condition_id: str) -> ConditionId:
    """Split an id into its parts; ``ValueError`` naming the id when it has no known form."""
    m = _ID.match(condition_id)
    if not m or (m["clean"] and m["lufs"]):
        raise ValueError(
            f"bad condition id {condition_id!r}: expected clean, <effect>@<level>, "
            f"chain:<name> or plugin:<name>@<preset>, optionally ending in {LUFS_SUFFIX!r}"
        )
    lufs = bool(m["lufs"])
    if m["clean"]:
        return ConditionId("clean", "clean")
    if m["effect"]:
        return ConditionId("effect", m["effect"], int(m["level"]), loudness_match=lufs)
    if m["chain"]:
        return ConditionId("chain", m["chain"], loudness_match=lufs)
    return ConditionId("plugin", m["plugin"], preset=m["preset"], loudness_match=lufs)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PluginRef(_Frozen):
    """Where a third-party plugin step loads its plugin from."""

    path: str
    plugin_name: str | None = None


class Step(_Frozen):
    """One effect of a condition with every parameter resolved."""

    effect: str
    """Registry name, or ``plugin`` for a VST3/AU plugin (then ``params`` are its parameters)."""
    level: int | None = None
    params: dict[str, float | bool | str] = Field(default_factory=dict)
    plugin: PluginRef | None = None

    @model_validator(mode="after")
    def _known(self) -> Step:
        if (self.effect == "plugin") != (self.plugin is not None):
            raise ValueError("a step has a plugin reference exactly when its effect is 'plugin'")
        if self.plugin is None:
            get_effect(self.effect)
        return self


class Condition(_Frozen):
    """A rendering recipe; everything downstream is keyed by its ``id``."""

    id: str
    kind: Kind
    steps: tuple[Step, ...] = ()
    loudness_match: bool = False
    tail_s: Annotated[float, Field(ge=0)] = 0.0
    """Seconds of silence appended before rendering so that tails are kept (0: same length)."""
    input_level: InputLevelSpec = "none"
    """Gain staging applied to the input before the steps (``fx.input_level``)."""

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        parsed = parse_condition_id(self.id)
        if (parsed.kind, parsed.loudness_match) != (self.kind, self.loudness_match):
            raise ValueError(
                f"condition {self.id!r}: kind {self.kind!r} / loudness_match "
                f"{self.loudness_match} disagree with its id"
            )
        if self.kind == "clean" and (self.steps or self.tail_s):
            raise ValueError("condition 'clean' must have no steps and no tail")
        if self.kind != "clean" and not self.steps:
            raise ValueError(f"condition {self.id!r} has no steps")
        return self

    @computed_field
    @cached_property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of what determines the rendered audio."""
        fields = {"steps", "loudness_match", "tail_s"}
        if self.input_level != "none":  # hashes (and caches) from before the setting stay valid
            fields.add("input_level")
        content = self.model_dump(include=fields)
        blob = json.dumps({**content, "renderer": RENDERER}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def slug(self) -> str:
        """The id as a portable file or directory name (``chain:u2`` → ``chain-u2``)."""
        return self.id.replace(":", "-")


def condition_ids(params: FxParams) -> list[str]:
    """The grid's ids in order: ``clean``, effects × levels, chains, plugin presets; each
    ``+lufs`` twin right after its base when the loudness policy asks for it."""
    bases = [(e, f"{e}@{level}") for e in params.effects for level in params.levels]
    bases += [(c.name, f"chain:{c.name}") for c in params.chains]
    bases += [(p.name, f"plugin:{p.name}@{preset}") for p in params.plugins for preset in p.presets]
    ids = ["clean"]
    for name, base in bases:
        ids += [base, base + LUFS_SUFFIX] if params.matches_loudness(name) else [base]
    return ids


def build_conditions(params: FxParams) -> list[Condition]:
    """Every condition of the ``fx`` section, ``clean`` first."""
    return [resolve_condition(i, params) for i in condition_ids(params)]


def resolve_condition(condition_id: str, params: FxParams | None = None) -> Condition:
    """The condition for ``condition_id``: effects and built-in chains need no ``params``; user
    chains, plugins, kept tails and the input level come from ``params`` (default: those of
    ``FxParams()``). ``ValueError`` names the id."""
    params = params or FxParams(chains=[], loudness_match=False)
    ref = parse_condition_id(condition_id)
    try:
        steps = _steps(ref, params)
    except ValueError as exc:
        raise ValueError(f"condition {condition_id!r}: {exc}") from None
    tail_s = params.tail_s if params.keep_tails and ref.kind != "clean" else 0.0
    return Condition(
        id=condition_id,
        kind=ref.kind,
        steps=steps,
        loudness_match=ref.loudness_match,
        tail_s=tail_s,
        input_level=params.input_level,
    )


def _steps(ref: ConditionId, params: FxParams) -> tuple[Step, ...]:
    if ref.kind == "clean":
        return ()
    if ref.kind == "effect":
        effect = get_effect(ref.name)
        level = check_level(ref.level)
        return (Step(effect=ref.name, level=level, params=effect.resolve(level)),)
    if ref.kind == "chain":
        return _chain_steps(ref.name, params)
    plugin = next((p for p in params.plugins if p.name == ref.name), None)
    if plugin is None:
        raise ValueError(f"no plugin {ref.name!r} in fx.plugins")
    if ref.preset not in plugin.presets:
        raise ValueError(
            f"plugin {ref.name!r} has no preset {ref.preset!r} ({list(plugin.presets)})"
        )
    source = PluginRef(path=str(plugin.path), plugin_name=plugin.plugin_name)
    return (Step(effect="plugin", params=plugin.presets[ref.preset], plugin=source),)


def _chain_steps(name: str, params: FxParams) -> tuple[Step, ...]:
    user = next((c for c in params.chains if c.name == name and c.steps is not None), None)
    if user is not None:
        entries = [(s.effect, s.level, s.params) for s in user.steps]
    elif name in BUILTIN_CHAINS:
        entries = [(effect, level, {}) for effect, level in BUILTIN_CHAINS[name]]
    else:
        raise ValueError(f"unknown chain {name!r} (built-in: {', '.join(BUILTIN_CHAINS)})")
    return tuple(
        Step(effect=e, level=level, params=get_effect(e).resolve(level, overrides))
        for e, level, overrides in entries
    )


class _ConditionsFile(_Frozen):
    conditions: list[Condition]


def save_conditions(conditions: Sequence[Condition], path: str | Path) -> None:
    """Write ``conditions.json`` atomically (temp file + rename)."""
    path = Path(path)
    _check_list(conditions, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _ConditionsFile(conditions=list(conditions)).model_dump_json(indent=2, exclude_none=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(text + "\n")
    os.replace(f.name, path)


def load_conditions(path: str | Path) -> list[Condition]:
    """Read ``conditions.json``; ``ValueError`` naming the file and entry when anything is off,
    including a stored content hash that its parameters (or this pedalboard) no longer give."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        stored = [item.pop("content_hash", None) for item in raw["conditions"]]
        conditions = _ConditionsFile.model_validate(raw).conditions
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found (run `emofx conditions`)") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a conditions file ({exc!r})") from None
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, str(path))) from None
    for i, (condition, expected) in enumerate(zip(conditions, stored, strict=True)):
        if expected != condition.content_hash:
            raise ValueError(
                f"{path}.conditions[{i}] ({condition.id}): content_hash {expected} does not match "
                f"its parameters and renderer {RENDERER!r}; re-run `emofx conditions`"
            )
    _check_list(conditions, str(path))
    return conditions


def _check_list(conditions: Iterable[Condition], where: str) -> None:
    ids = [c.id for c in conditions]
    if not ids or ids[0] != "clean":
        raise ValueError(f"{where}: the first condition must be 'clean', got {ids[:1]}")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{where}: duplicate condition ids {duplicates}")
