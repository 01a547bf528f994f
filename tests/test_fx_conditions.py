"""Conditions: ids, the grid, resolution, content hashes and conditions.json."""

import json
import re

import pytest

from emofx.fx.chains import BUILTIN_CHAINS, PAPER_CHAIN_ORDER
from emofx.fx.conditions import (
    Condition,
    ConditionId,
    build_conditions,
    load_conditions,
    parse_condition_id,
    resolve_condition,
    save_conditions,
)
from emofx.fx.config import parse_fx_params


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("clean", ConditionId("clean", "clean")),
        ("reverb@7", ConditionId("effect", "reverb", 7)),
        ("distortion@10+lufs", ConditionId("effect", "distortion", 10, loudness_match=True)),
        ("chain:u2", ConditionId("chain", "u2")),
        ("chain:my-chain+lufs", ConditionId("chain", "my-chain", loudness_match=True)),
        ("plugin:tal@hall", ConditionId("plugin", "tal", preset="hall")),
    ],
)
def test_parse_condition_id(text, parsed):
    assert parse_condition_id(text) == parsed


@pytest.mark.parametrize(
    "text", ["", "reverb", "reverb@", "clean+lufs", "chain:", "plugin:x", "u2"]
)
def test_bad_condition_id_is_named(text):
    with pytest.raises(ValueError, match=re.escape(f"bad condition id '{text}'")):
        parse_condition_id(text)


def test_grid_order_clean_first_twins_after_their_base():
    params = parse_fx_params(
        {
            "effects": ["gain", "reverb"],
            "levels": [2, 9],
            "chains": ["u2"],
            "loudness_match": ["gain", "u2"],
        }
    )
    assert [c.id for c in build_conditions(params)] == [
        "clean",
        "gain@2",
        "gain@2+lufs",
        "gain@9",
        "gain@9+lufs",
        "reverb@2",
        "reverb@9",
        "chain:u2",
        "chain:u2+lufs",
    ]


def test_paper_chains_resolve_in_paper_order_with_their_levels():
    u2 = resolve_condition("chain:u2")
    assert [(s.effect, s.level) for s in u2.steps] == list(
        zip(PAPER_CHAIN_ORDER, [4, 7, 8, 10, 2, 3], strict=True)
    )
    assert [s.level for s in resolve_condition("chain:pink_floyd").steps] == [3, 6, 9, 7, 2, 4]
    assert [s.level for s in resolve_condition("chain:rage_against_the_machine").steps] == [
        9,
        5,
        1,
        2,
        6,
        1,
    ]
    assert set(BUILTIN_CHAINS) == {"pink_floyd", "rage_against_the_machine", "u2"}
    assert u2.steps[2].params["room_size"] == pytest.approx(0.74)


def test_user_chain_resolves_explicit_parameters_and_tails():
    params = parse_fx_params(
        {
            "chains": [
                {"name": "dub", "steps": [{"effect": "delay", "level": 3, "params": {"mix": 0.8}}]}
            ],
            "keep_tails": True,
            "tail_s": 2.5,
        }
    )
    dub = resolve_condition("chain:dub+lufs", params)
    assert dub.steps[0].params == {"delay_seconds": 0.131, "feedback": 0.25, "mix": 0.8}
    assert dub.loudness_match and dub.tail_s == 2.5
    assert resolve_condition("clean", params).tail_s == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reverb@11", "condition 'reverb@11': level 11 outside 1-10"),
        ("reverbb@3", "condition 'reverbb@3': unknown effect 'reverbb'"),
        ("chain:u3", "condition 'chain:u3': unknown chain 'u3'"),
        ("plugin:tal@hall", "condition 'plugin:tal@hall': no plugin 'tal' in fx.plugins"),
    ],
)
def test_unresolvable_condition_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        resolve_condition(text)


def test_content_hash_covers_what_is_rendered_not_the_id():
    reverb = resolve_condition("reverb@7")
    same_audio = parse_fx_params(
        {"chains": [{"name": "r7", "steps": [{"effect": "reverb", "level": 7}]}]}
    )
    assert resolve_condition("chain:r7", same_audio).content_hash == reverb.content_hash
    assert resolve_condition("reverb@7").content_hash == reverb.content_hash
    assert (
        len(
            {
                reverb.content_hash,
                resolve_condition("reverb@8").content_hash,
                resolve_condition("reverb@7+lufs").content_hash,
                resolve_condition("reverb@7", parse_fx_params({"keep_tails": True})).content_hash,
            }
        )
        == 4
    )


def test_conditions_file_round_trip(tmp_path):
    conditions = build_conditions(parse_fx_params({}))
    path = tmp_path / "data" / "conditions.json"
    save_conditions(conditions, path)
    assert load_conditions(path) == conditions
    stored = json.loads(path.read_text())["conditions"]
    assert stored[0] == {
        "id": "clean",
        "kind": "clean",
        "steps": [],
        "loudness_match": False,
        "tail_s": 0.0,
        "input_level": "none",
        "content_hash": conditions[0].content_hash,
    }
    assert [c.slug for c in conditions][-1] == "chain-u2+lufs"


def test_edited_conditions_file_is_rejected_naming_the_entry(tmp_path):
    path = tmp_path / "conditions.json"
    save_conditions(build_conditions(parse_fx_params({"effects": ["reverb"], "levels": [3]})), path)
    raw = json.loads(path.read_text())
    raw["conditions"][1]["steps"][0]["params"]["room_size"] = 0.99
    path.write_text(json.dumps(raw))
    with pytest.raises(
        ValueError, match=r"conditions\[1\] \(reverb@3\): content_hash .* does not match"
    ):
        load_conditions(path)


def test_conditions_file_must_start_with_clean(tmp_path):
    with pytest.raises(ValueError, match="the first condition must be 'clean'"):
        save_conditions([resolve_condition("reverb@3")], tmp_path / "c.json")
    with pytest.raises(ValueError, match="file not found"):
        load_conditions(tmp_path / "missing.json")


def test_condition_rejects_kind_that_disagrees_with_its_id():
    with pytest.raises(ValueError, match="disagree with its id"):
        Condition(id="reverb@3+lufs", kind="effect", steps=resolve_condition("reverb@3").steps)


def test_plugin_presets_become_conditions(tmp_path):
    plugin_file = tmp_path / "tal.vst3"
    plugin_file.write_bytes(b"not really a plugin")
    params = parse_fx_params(
        {
            "effects": ["gain"],
            "levels": [5],
            "chains": [],
            "loudness_match": ["tal"],
            "plugins": [
                {"name": "tal", "path": str(plugin_file), "presets": {"hall": {"size": 0.8}}}
            ],
        }
    )
    conditions = build_conditions(params)
    assert [c.id for c in conditions] == [
        "clean",
        "gain@5",
        "plugin:tal@hall",
        "plugin:tal@hall+lufs",
    ]
    (step,) = conditions[2].steps
    assert (step.effect, step.params, step.plugin.path) == (
        "plugin",
        {"size": 0.8},
        str(plugin_file),
    )
    with pytest.raises(ValueError, match=r"plugin 'tal' has no preset 'room'"):
        resolve_condition("plugin:tal@room", params)


def test_conditions_file_with_an_unknown_effect_is_rejected(tmp_path):
    path = tmp_path / "conditions.json"
    save_conditions(build_conditions(parse_fx_params({"effects": ["reverb"], "levels": [3]})), path)
    path.write_text(path.read_text().replace('"effect": "reverb"', '"effect": "flanger"'))
    with pytest.raises(ValueError, match=r"conditions\[1\]\.steps\[0\]: unknown effect 'flanger'"):
        load_conditions(path)
