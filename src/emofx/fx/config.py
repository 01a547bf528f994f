"""Typed, validated view of the params.yaml ``fx:`` section.

Every error names its key (``fx.effects[2]: unknown effect 'reverbb' (known: ...)``) through
:func:`parse_fx_params`; the models can also be nested in a larger pydantic model, whose own error
locations then carry the same key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from emofx.errors import EmofxError
from emofx.fx.chains import BUILTIN_CHAINS
from emofx.fx.effects import EFFECTS, check_level, get_effect
from emofx.fx.levels import DEFAULT_INPUT_LEVEL, parse_input_level

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
"""Names that appear inside condition ids and file names (chains, plugins, presets)."""


_LEADING_KEY = re.compile(r"^(\w+(?:\[\d+\])*): ")


class FxConfigError(EmofxError, ValueError):
    """An invalid ``fx`` section; one line per problem, each naming its key."""


def _known_effect(name: str) -> str:
    get_effect(name)
    return name


def _safe_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValueError(f"name {name!r} must match {NAME_PATTERN.pattern}")
    return name


EffectName = Annotated[str, AfterValidator(_known_effect)]
Level = Annotated[int, AfterValidator(check_level)]
SafeName = Annotated[str, AfterValidator(_safe_name)]


def _input_level(spec: str) -> str:
    parse_input_level(spec)
    return spec


InputLevelSpec = Annotated[str, AfterValidator(_input_level)]
ParamValues = dict[str, float]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


class ChainStep(_Strict):
    """One step of a user chain: an effect at a level, with optional explicit parameters."""

    effect: EffectName
    level: Level | None = None
    params: ParamValues = Field(default_factory=dict)

    @model_validator(mode="after")
    def _resolvable(self) -> ChainStep:
        if self.level is None and not self.params:
            raise ValueError(f"step {self.effect!r} needs a level, params or both")
        get_effect(self.effect).resolve(self.level, self.params)
        return self


class ChainParams(_Strict):
    """A chain: a built-in one by name (``u2``), or a user chain with its steps in order."""

    name: SafeName
    steps: list[ChainStep] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _known_or_defined(self) -> ChainParams:
        builtin = ", ".join(BUILTIN_CHAINS)
        if self.steps is None and self.name not in BUILTIN_CHAINS:
            raise ValueError(
                f"unknown chain {self.name!r} (built-in: {builtin}); "
                "define your own as {name: ..., steps: [{effect: ..., level: ...}, ...]}"
            )
        if self.steps is not None:
            if self.name in BUILTIN_CHAINS or self.name in EFFECTS:
                raise ValueError(f"chain name {self.name!r} is taken by a built-in chain or effect")
            if not self.steps:
                raise ValueError(f"chain {self.name!r} has no steps")
        return self


class PluginParams(_Strict):
    """A VST3/AU plugin file and its named presets (parameter values by plugin parameter name)."""

    name: SafeName
    path: Path
    plugin_name: str | None = None
    """Which plugin of a multi-plugin bundle (pedalboard's ``plugin_name``)."""
    presets: dict[SafeName, dict[str, float | bool | str]]

    @model_validator(mode="after")
    def _exists(self) -> PluginParams:
        if not self.path.exists():
            raise ValueError(f"plugin file not found: {self.path}")
        if not self.presets:
            raise ValueError(f"plugin {self.name!r} needs at least one preset")
        return self


class AuditionParams(_Strict):
    """Listening material logged per condition."""

    clips: Annotated[int, Field(ge=0)] = 3
    excerpt_s: Annotated[float, Field(gt=0)] = 5.0
    materialise: bool = False
    """Also write every rendered (track, condition) as FLAC (off: FX are rendered on the fly)."""


class FxParams(_Strict):
    """The ``fx:`` section: the effect × level grid, chains, plugins and loudness policy."""

    effects: list[EffectName] = Field(
        default_factory=lambda: ["reverb", "distortion", "gain", "chorus"]
    )
    levels: list[Level] = Field(default_factory=lambda: [3, 8])
    chains: list[ChainParams] = Field(default_factory=lambda: list(BUILTIN_CHAINS))
    plugins: list[PluginParams] = Field(default_factory=list)
    input_level: InputLevelSpec = DEFAULT_INPUT_LEVEL
    """Level every clip is brought to before any condition renders it, ``clean`` included
    (``none`` | ``peak:<dB>dBFS`` | ``lufs:<dB>``; :mod:`emofx.fx.levels`)."""
    loudness_match: bool | list[str] = True
    """``true``: every condition also gets a ``+lufs`` twin; a list: only the effects, chains or
    plugins it names."""
    keep_tails: bool = False
    tail_s: Annotated[float, Field(gt=0)] = 5.0
    """Seconds of silence appended before rendering when ``keep_tails`` (reverb/delay tails)."""
    audition: AuditionParams = Field(default_factory=AuditionParams)

    @model_validator(mode="after")
    def _consistent(self) -> FxParams:
        for key, names in [
            ("effects", self.effects),
            ("levels", self.levels),
            ("chains", [c.name for c in self.chains]),
            ("plugins", [p.name for p in self.plugins]),
        ]:
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise ValueError(f"{key}[{i}]: {name!r} is listed twice")
        if isinstance(self.loudness_match, list):
            known = self.base_names()
            for i, name in enumerate(self.loudness_match):
                if name not in known:
                    raise ValueError(
                        f"loudness_match[{i}]: {name!r} is none of the effects, chains or "
                        f"plugins of this section ({', '.join(known)})"
                    )
        return self

    def base_names(self) -> list[str]:
        """Names that a ``loudness_match`` list may use."""
        return [*self.effects, *(c.name for c in self.chains), *(p.name for p in self.plugins)]

    def matches_loudness(self, name: str) -> bool:
        """Whether conditions of the effect, chain or plugin ``name`` get a ``+lufs`` twin."""
        if isinstance(self.loudness_match, bool):
            return self.loudness_match
        return name in self.loudness_match


def format_validation_error(exc: ValidationError, prefix: str) -> str:
    """One line per error: ``prefix.key[i].sub: message``.

    Cross-field checks run on the whole model, so pydantic places them at the model; their
    messages start with the key they concern (``levels[2]: ...``), which joins the path here.
    """
    lines = []
    for err in exc.errors():
        where = prefix
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        error = err.get("ctx", {}).get("error")
        message = str(error) if err["type"] == "value_error" and error else err["msg"]
        if key := _LEADING_KEY.match(message):
            where, message = f"{where}.{key[1]}", message[key.end() :]
        lines.append(f"{where}: {message}")
    return "\n".join(lines)


def parse_fx_params(data: Mapping[str, Any] | None, prefix: str = "fx") -> FxParams:
    """Validate the ``fx`` mapping of params.yaml; ``FxConfigError`` names every bad key."""
    try:
        return FxParams.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise FxConfigError(format_validation_error(exc, prefix)) from None
