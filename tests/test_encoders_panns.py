"""PANNs CNN14: official key layout, tiny random checkpoints vs a reference forward, errors."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emofx.encoders import weights
from emofx.encoders.panns import Cnn14, PannsEncoder
from tests.test_encoders_musicnn import instantiate_model_config
from tests.tiny_models import TINY_CNN14_CHANNELS as TINY_CHANNELS
from tests.tiny_models import tiny_state_dict

REPO = Path(__file__).resolve().parents[1]
SR = 32_000


@pytest.fixture(autouse=True)
def isolated_weights_lookup(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """Official on-disk format: ``torch.save({"model": state_dict})``."""
    state = tiny_state_dict()
    path = tmp_path_factory.mktemp("panns") / "Cnn14_mAP=0.431.pth"
    torch.save({"model": state}, path)
    return path, state


def reference_forward(state: dict, audio: np.ndarray) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The official Cnn14.forward in eval mode, written out from the state dict, with librosa's
    STFT (Hann, centred, reflect padding) in place of the checkpoint's conv kernels."""

    def bn(x, name):
        return F.batch_norm(
            x, state[f"{name}.running_mean"], state[f"{name}.running_var"],
            state[f"{name}.weight"], state[f"{name}.bias"], eps=1e-5,
        )  # fmt: skip

    stft = librosa.stft(audio, n_fft=1024, hop_length=320, center=True, pad_mode="reflect")
    power = torch.from_numpy(np.abs(stft) ** 2).float().T  # [frames, freq]
    x = 10 * torch.log10((power @ state["logmel_extractor.melW"]).clamp(min=1e-10))
    x = bn(x.T[None, :, :, None], "bn0").transpose(1, 3)  # [1, 1, frames, mels]
    blocks = []
    for i in range(1, 7):
        p = f"conv_block{i}"
        x = F.relu(bn(F.conv2d(x, state[f"{p}.conv1.weight"], padding=1), f"{p}.bn1"))
        x = F.relu(bn(F.conv2d(x, state[f"{p}.conv2.weight"], padding=1), f"{p}.bn2"))
        x = F.avg_pool2d(x, 2 if i < 6 else 1)
        blocks.append(x)
    x = x.mean(dim=3)
    x = x.max(dim=2).values + x.mean(dim=2)
    return blocks, F.relu(F.linear(x, state["fc1.weight"], state["fc1.bias"]))


def test_full_size_cnn14_has_the_official_key_layout():
    with torch.device("meta"):  # shapes only, no 80M-parameter allocation
        model = Cnn14()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["spectrogram_extractor.stft.conv_real.weight"] == (513, 1, 1024)
    assert shapes["spectrogram_extractor.stft.conv_imag.weight"] == (513, 1, 1024)
    assert shapes["logmel_extractor.melW"] == (513, 64)
    assert shapes["bn0.weight"] == (64,)
    widths = [1, 64, 128, 256, 512, 1024, 2048]
    for i in range(1, 7):
        assert shapes[f"conv_block{i}.conv1.weight"] == (widths[i], widths[i - 1], 3, 3)
        assert shapes[f"conv_block{i}.conv2.weight"] == (widths[i], widths[i], 3, 3)
        for bn in ("bn1", "bn2"):
            assert shapes[f"conv_block{i}.{bn}.running_var"] == (widths[i],)
    assert shapes["fc1.weight"] == (2048, 2048) and shapes["fc_audioset.weight"] == (527, 2048)
    expected_keys = 3 + 5 + 6 * 12 + 4  # front end, bn0, 6 blocks (2 convs + 2 BNs), 2 linears
    assert len(shapes) == expected_keys
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == pytest.approx(80.8e6, rel=1e-3)  # the paper's 80.8M; front end is frozen


def test_front_end_matches_the_official_defaults():
    model = Cnn14(TINY_CHANNELS)
    mel = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=64, fmin=50, fmax=14000)
    np.testing.assert_allclose(model.logmel_extractor.melW.detach().numpy(), mel.T, atol=1e-7)
    audio = np.random.default_rng(0).normal(0, 0.1, SR // 2).astype(np.float32)
    power = model.spectrogram_extractor(torch.from_numpy(audio)[None])[0]
    stft = librosa.stft(audio, n_fft=1024, hop_length=320, center=True, pad_mode="reflect")
    np.testing.assert_allclose(power.numpy(), np.abs(stft.T) ** 2, rtol=1e-3, atol=1e-3)


def test_tiny_checkpoint_loads_and_matches_reference_forward(tiny_checkpoint):
    path, state = tiny_checkpoint
    encoder = PannsEncoder(weights_path=str(path))
    assert encoder.layer_names() == [f"block{i}" for i in range(1, 7)] + ["embedding"]
    assert encoder.window_layer_dims() == [4, 8, 8, 16, 16, 32, 32]
    assert encoder.model.fc_audioset.out_features == 7
    audio = np.random.default_rng(1).normal(0, 0.1, 2 * SR).astype(np.float32)
    blocks, embedding = encoder.model(torch.from_numpy(audio)[None])
    ref_blocks, ref_embedding = reference_forward(state, audio)
    assert [tuple(b.shape) for b in blocks] == [
        (1, 4, 100, 32), (1, 8, 50, 16), (1, 8, 25, 8), (1, 16, 12, 4), (1, 16, 6, 2),
        (1, 32, 6, 2),
    ]  # fmt: skip
    for got, ref in zip(blocks, ref_blocks, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(embedding, ref_embedding, rtol=1e-3, atol=1e-3)
    assert embedding.abs().sum().item() > 0


def test_encoder_windows_and_pools_long_audio(tiny_checkpoint):
    path, state = tiny_checkpoint
    encoder = PannsEncoder(weights_path=str(path.parent), window_s=1.0, hop_s=0.5)
    audio = np.random.default_rng(2).normal(0, 0.1, int(1.7 * SR)).astype(np.float32)
    emb = encoder.embed([torch.from_numpy(audio)])
    assert emb.shape == (1, 7, 32)
    windows = [audio[s : s + SR] for s in (0, SR // 2, int(0.7 * SR))]  # last aligned to the end
    refs = [reference_forward(state, w) for w in windows]
    block3 = torch.stack([r[0][2].mean(dim=(2, 3))[0] for r in refs]).mean(0)
    torch.testing.assert_close(emb[0, 2, :8], block3, rtol=1e-3, atol=1e-3)
    assert torch.all(emb[0, 2, 8:] == 0)
    embedding = torch.stack([r[1][0] for r in refs]).mean(0)
    torch.testing.assert_close(emb[0, 6], embedding, rtol=1e-3, atol=1e-3)


def test_short_clip_is_encoded_at_its_real_length(tiny_checkpoint):
    """As the PANNs release's inference: the clip as it is, no zero padding to the window."""
    path, state = tiny_checkpoint
    encoder = PannsEncoder(weights_path=str(path), window_s=2.0)
    short = np.random.default_rng(3).normal(0, 0.1, SR // 2).astype(np.float32)
    emb = encoder.embed([torch.from_numpy(short)])[0]
    ref_blocks, ref_embedding = reference_forward(state, short)
    torch.testing.assert_close(emb[6], ref_embedding[0], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(emb[1, :8], ref_blocks[1].mean(dim=(2, 3))[0], rtol=1e-3, atol=1e-3)
    zero_padded = encoder.embed([F.pad(torch.from_numpy(short), (0, 2 * SR - SR // 2))])[0]
    assert not torch.allclose(emb, zero_padded, atol=1e-3)


def test_checkpoint_without_model_entry_is_rejected(tmp_path):
    torch.save(tiny_state_dict(), tmp_path / "bare.pth")
    with pytest.raises(ValueError, match=r"bare\.pth: not a PANNs checkpoint \(no 'model' entry"):
        PannsEncoder(weights_path=str(tmp_path / "bare.pth"))
    state = tiny_state_dict()
    del state["fc1.bias"]
    torch.save({"model": state}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"(?s)partial\.pth: not a PANNs CNN14.*fc1\.bias"):
        PannsEncoder(weights_path=str(tmp_path / "partial.pth"))


def test_absent_weights_say_where_to_get_and_how_to_point_at_them():
    with pytest.raises(weights.WeightsNotFoundError) as info:
        PannsEncoder()
    message = str(info.value)
    for expected in ("Cnn14_mAP=0.431.pth", "zenodo.org/record/3987831", "EMOFX_WEIGHTS_DIR"):
        assert expected in message
    assert "model.init_args.weights_path" in message


def test_weights_found_through_env_dir(tiny_checkpoint, monkeypatch):
    path, _ = tiny_checkpoint
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(path.parent))
    assert PannsEncoder().window_layer_dims()[-1] == 32


def test_lightning_config_instantiates_the_encoder(tiny_checkpoint):
    path, _ = tiny_checkpoint
    config = REPO / "lightning_configs" / "embed.panns.yaml"
    encoder = instantiate_model_config(config, weights_path=str(path))
    assert isinstance(encoder, PannsEncoder)
    assert (encoder.sample_rate, encoder.window_s, encoder.hop_s) == (32_000, 10.0, 10.0)
