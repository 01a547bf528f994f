"""FX engine: effect registry, chains, conditions, loudness matching and rendering."""

from emofx.fx.conditions import (
    Condition,
    ConditionId,
    build_conditions,
    condition_ids,
    load_conditions,
    parse_condition_id,
    resolve_condition,
    save_conditions,
)
from emofx.fx.config import FxConfigError, FxParams, parse_fx_params
from emofx.fx.effects import EFFECTS, get_effect
from emofx.fx.loudness import integrated_loudness
from emofx.fx.render import Rendered, RenderError, check_renderable, render, render_file

__all__ = [
    "EFFECTS",
    "Condition",
    "ConditionId",
    "FxConfigError",
    "FxParams",
    "RenderError",
    "Rendered",
    "build_conditions",
    "check_renderable",
    "condition_ids",
    "get_effect",
    "integrated_loudness",
    "load_conditions",
    "parse_condition_id",
    "parse_fx_params",
    "render",
    "render_file",
    "resolve_condition",
    "save_conditions",
]
