"""The params.yaml ``fx`` section: defaults, user chains and errors that name the key."""

import pytest

from emofx.fx.config import FxConfigError, FxParams, parse_fx_params


def test_defaults_are_the_suggested_grid():
    params = parse_fx_params(None)
    assert params.effects == ["reverb", "distortion", "gain", "chorus"]
    assert params.levels == [3, 8]
    assert [c.name for c in params.chains] == ["pink_floyd", "rage_against_the_machine", "u2"]
    assert params.loudness_match is True and params.keep_tails is False


def test_user_chain_with_levels_and_explicit_parameters():
    params = parse_fx_params(
        {
            "chains": [
                "u2",
                {
                    "name": "lofi",
                    "steps": [
                        {"effect": "mp3", "level": 9},
                        {"effect": "reverb", "params": {"room_size": 0.3, "wet_level": 0.2}},
                    ],
                },
            ]
        }
    )
    lofi = params.chains[1]
    assert [s.effect for s in lofi.steps] == ["mp3", "reverb"]
    assert lofi.steps[1].params == {"room_size": 0.3, "wet_level": 0.2}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"effects": ["reverb", "gain", "reverbb"]},
            "fx.effects[2]: unknown effect 'reverbb' (known:",
        ),
        ({"levels": [3, 11]}, "fx.levels[1]: level 11 outside 1-10"),
        ({"levels": [0]}, "fx.levels[0]: level 0 outside 1-10"),
        ({"levels": [3, 3]}, "fx.levels[1]: 3 is listed twice"),
        ({"levels": [2.5]}, "fx.levels[0]: Input should be a valid integer"),
        ({"chains": ["u3"]}, "fx.chains[0]: unknown chain 'u3' (built-in: pink_floyd,"),
        (
            {
                "chains": [
                    {"name": "x", "steps": [{"effect": "reverb", "params": {"room_size": 2}}]}
                ]
            },
            "fx.chains[0].steps[0]: reverb.room_size=2.0: Room Size value must be between",
        ),
        (
            {"chains": [{"name": "x", "steps": [{"effect": "reverb", "params": {"size": 1}}]}]},
            "fx.chains[0].steps[0]: unknown parameter 'size' for effect 'reverb'",
        ),
        (
            {"chains": [{"name": "x", "steps": [{"effect": "phaser", "level": 12}]}]},
            "fx.chains[0].steps[0].level: level 12 outside 1-10",
        ),
        ({"chains": [{"name": "x", "steps": [{"effect": "eq"}]}]}, "needs a level, params or both"),
        ({"chains": [{"name": "reverb", "steps": [{"effect": "eq", "level": 2}]}]}, "is taken"),
        ({"chains": [{"name": "Bad Name", "steps": []}]}, "fx.chains[0].name: name 'Bad Name'"),
        ({"loudness_match": ["gain", "flanger"]}, "fx.loudness_match[1]: 'flanger' is none of"),
        (
            {"plugins": [{"name": "tal", "path": "/no/such.vst3", "presets": {"hall": {}}}]},
            "fx.plugins[0]: plugin file not found: /no/such.vst3",
        ),
        ({"efects": ["reverb"]}, "fx.efects: Extra inputs are not permitted"),
        ({"tail_s": 0}, "fx.tail_s: Input should be greater than 0"),
    ],
)
def test_errors_name_the_offending_key(section, expected):
    with pytest.raises(FxConfigError) as info:
        parse_fx_params(section)
    assert expected in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(FxConfigError) as info:
        parse_fx_params({"effects": ["nope"], "levels": [99]})
    assert str(info.value).splitlines() == [
        "fx.effects[0]: unknown effect 'nope' (known: reverb, delay, distortion, eq, chorus, "
        "phaser, compressor, bitcrush, pitch_shift, gain, clipping, mp3)",
        "fx.levels[0]: level 99 outside 1-10",
    ]


def test_loudness_policy_by_name():
    params = FxParams(effects=["gain", "reverb"], loudness_match=["gain", "u2"])
    assert params.matches_loudness("gain") and params.matches_loudness("u2")
    assert not params.matches_loudness("reverb")
