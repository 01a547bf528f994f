"""What a store keeps: float16 or float32, all layers or a list; readers get float32 either way."""

from __future__ import annotations

import numpy as np
import pytest

from emofx.config import ParamsError, load_params
from emofx.embed.frames import FrameSpec
from emofx.embed.runner import EncoderConfig, FrameJob, embed_dataset
from emofx.embed.store import EmbeddingStore, StoreFormat, StoreOverflowError
from emofx.fx.conditions import resolve_condition
from tests.embed_fixtures import make_prepared, write_encoder_config
from tests.test_config import write

DESCRIPTION = {"layer_names": ["front", "mid", "tags"], "layer_dims": [6, 4, 2], "encoder": "x"}


def test_a_layer_list_keeps_those_layers_trimmed_to_their_widest():
    fmt = StoreFormat("float16", ("tags", 1))
    described = fmt.describe(DESCRIPTION)
    assert described["layer_names"] == ["mid", "tags"] and described["layer_dims"] == [4, 2]
    assert described["layer_indices"] == [1, 2] and described["dtype"] == "float16"
    embedding = np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6) / 7
    kept = fmt.apply(embedding, described)
    assert kept.dtype == np.float16 and kept.shape == (2, 2, 4)
    np.testing.assert_allclose(kept, embedding[:, 1:, :4], rtol=2.0**-11)
    assert StoreFormat().describe(DESCRIPTION) == DESCRIPTION  # the default changes no hash
    with pytest.raises(ValueError, match="'head' is not a layer"):
        StoreFormat(layers=("head",)).describe(DESCRIPTION)
    with pytest.raises(ValueError, match="3 out of range for 3 layers"):
        StoreFormat(layers=(3,)).describe(DESCRIPTION)
    with pytest.raises(StoreOverflowError, match="exceeds the float16 range"):
        StoreFormat("float16").apply(np.full((1, 3, 6), 7e4, np.float32), DESCRIPTION)


def test_a_float16_store_is_half_the_bytes_and_reads_back_within_float16_rounding(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=3, seconds=1.0)
    config = EncoderConfig.from_yaml(write_encoder_config(tmp_path / "enc.yaml"))
    conditions = [resolve_condition(c) for c in ("clean", "distortion@5")]
    spec = FrameSpec(window_s=0.5, hop_s=0.25)

    def run(out, fmt):
        job = FrameJob(spec, manifest, conditions, tmp_path / out / "frames", fmt)
        return embed_dataset(
            config, manifest, tmp_path / "prepared", conditions, tmp_path / out, seed=0,
            data_hash="fixture", progress=False, with_frames=job, store_format=fmt,
        )  # fmt: skip

    wide = run("f32", StoreFormat()).store
    half = run("f16", StoreFormat("float16", ("features",)))
    for narrow, full in (
        (half.store, wide),
        (half.frames.store, EmbeddingStore(wide.root / "frames")),
    ):
        assert narrow.meta()["dtype"] == "float16" and narrow.load("clean").dtype == np.float16
        assert (narrow.root / "clean.npy").stat().st_size < 0.55 * (
            full.root / "clean.npy"
        ).stat().st_size
        got, want = narrow.load("distortion@5", "features"), full.load("distortion@5", 0)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2.0**-11, atol=2.0**-24)
    assert not np.array_equal(half.store.load("clean", 0), wide.load("clean", 0))  # rounded


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"embed.layers": ["layer_06"], "probe.layer": "layer_12"},
            "embed.layers: ['layer_06'] does not keep probe.layer 'layer_12'; add it, or set "
            "probe.layer: best (it then chooses among the kept layers)",
        ),
        (
            {"embed.frames.layers": [3], "probe.layer": 3},
            "probe.layer: 3 is an index, ambiguous when embed.frames.layers keeps only some "
            "layers; name the layer (e.g. layer_12)",
        ),
    ],
)
def test_emofx_check_refuses_layer_lists_without_the_probe_layer(tmp_path, changes, expected):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, **changes))
    assert str(err.value).splitlines() == [f"{tmp_path / 'params.yaml'}: {expected}"]
    load_params(write(tmp_path, **{**changes, "probe.layer": "best"}))  # a sweep of the kept
