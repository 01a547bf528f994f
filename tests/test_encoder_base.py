"""The Encoder base machinery: windowing, pooling, padding of unequal layer widths."""

from __future__ import annotations

import pytest
import torch

from emofx.encoders.base import Encoder, cut_windows, encode_by_length, window_starts


class WindowStats(Encoder):
    """A weightless encoder whose layers are simple window statistics (mean; [mean, max, min])."""

    name = "window-stats"
    sample_rate = 10

    def layer_names(self) -> list[str]:
        return ["mean", "mean_max_min"]

    def window_layer_dims(self) -> list[int]:
        return [1, 3]

    def encode_windows(self, windows) -> list[torch.Tensor]:
        return encode_by_length(windows, self.stats)

    def stats(self, windows: torch.Tensor) -> list[torch.Tensor]:
        self.calls = getattr(self, "calls", 0) + 1
        m = windows.mean(1, keepdim=True)
        return [m, torch.cat([m, windows.amax(1, keepdim=True), windows.amin(1, keepdim=True)], 1)]


def test_window_starts_cover_the_signal_and_align_the_last_window_to_the_end():
    assert window_starts(100, 30, 30) == [0, 30, 60, 70]
    assert window_starts(90, 30, 30) == [0, 30, 60]
    assert window_starts(20, 30, 15) == [0]


def test_short_audio_is_zero_padded_to_one_window():
    w = cut_windows(torch.ones(5), 8, 8)
    assert w.shape == (1, 8)
    assert w.sum() == 5


def test_a_clip_shorter_than_a_window_is_encoded_at_its_real_length():
    enc = WindowStats(window_s=1.0)  # 10-sample windows
    out = enc.embed([torch.ones(5), torch.full((20,), 2.0)])
    assert out[:, 1].tolist() == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]  # no zero in the short min
    assert out[:, 0, 0].tolist() == [1.0, 2.0]  # and no zero padding in its mean


def test_windows_of_unequal_length_keep_their_order():
    windows = [torch.full((3,), 1.0), torch.full((5,), 2.0), torch.full((3,), 3.0)]
    (means,) = encode_by_length(windows, lambda w: [w.mean(1)])
    assert means.tolist() == [1.0, 2.0, 3.0]


def test_mean_pooling_over_windows_and_zero_padding_of_narrow_layers():
    enc = WindowStats(window_s=1.0, hop_s=1.0)
    audio = torch.cat([torch.zeros(10), torch.ones(10)])  # two windows: mean 0 and mean 1
    out = enc.embed([audio])
    assert out.shape == (1, 2, 3)
    assert out[0, 0].tolist() == [0.5, 0.0, 0.0]  # mean of window means, padded to width 3
    assert out[0, 1].tolist() == [0.5, 0.5, 0.5]  # mean of (max, min) per window
    assert enc.layer_dims() == [1, 3]


def test_meanstd_pooling_doubles_the_width_and_records_it():
    enc = WindowStats(window_s=1.0, pooling="meanstd")
    out = enc.embed([torch.cat([torch.zeros(10), torch.ones(10)])])
    assert enc.layer_dims() == [2, 6]
    assert out[0, 0, :2].tolist() == pytest.approx([0.5, 0.5])  # mean and std of {0, 1}


def test_windows_of_several_items_are_batched_and_split_back_per_item():
    enc = WindowStats(window_s=1.0, window_batch_size=64)
    out = enc.embed([torch.full((30,), 2.0), torch.full((10,), -1.0)])
    assert enc.calls == 1  # one forward for all four windows
    assert out[:, 0, 0].tolist() == [2.0, -1.0]


def test_describe_records_what_the_store_needs():
    meta = WindowStats(window_s=1.0, hop_s=0.5).describe()
    assert meta["layer_names"] == ["mean", "mean_max_min"]
    assert meta["window_s"] == 1.0 and meta["hop_s"] == 0.5
    assert meta["sample_rate"] == 10


def test_bad_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling"):
        WindowStats(pooling="max")
