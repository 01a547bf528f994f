"""GPU checks of the Hugging Face encoders' CUDA paths, on tiny checkpoints and random full-size
architectures (no weights are downloaded). Run where CUDA exists:

    PYTHONPATH=src python scripts/gpu_check.py

1. Qwen2-Audio ``representation="decoder"`` (the paper-parity path, CUDA only): fp16 on the GPU,
   the language model's last state averaged over the audio tokens, equal to the Hugging Face model
   called directly with the processor's inputs on the same GPU.
2. MERT (330M-style tiny checkpoint): bf16 autocast on CUDA vs float32 on CPU, cosine similarity
   per layer (what `precision: bf16-mixed` changes in the embeddings).
3. Throughput of MERT-v1-95M/330M architectures (random weights) on CUDA in bf16: audio-s/s.
Prints one line per check; exits non-zero when a parity check fails.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.tiny_models

from emofx.encoders.mert import MertEncoder  # noqa: E402
from emofx.encoders.qwen2_audio import Qwen2AudioEncoder  # noqa: E402
from tests.tiny_models import (  # noqa: E402
    MERT_V1_95M,
    MERT_V1_330M_STYLE,
    TINY_MERT_330M,
    write_mert,
    write_qwen2_audio,
)

MERT_V1_330M = {
    **MERT_V1_95M,
    **MERT_V1_330M_STYLE,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}


def qwen_decoder_parity(workdir: Path) -> bool:
    from transformers import AutoProcessor

    reference, _ = write_qwen2_audio(workdir / "qwen")
    encoder = Qwen2AudioEncoder(str(workdir / "qwen"), representation="decoder", window_s=1.0)
    encoder = encoder.to("cuda").eval()
    clips = [torch.randn(16_000) * 0.2, torch.randn(8_000) * 0.2]
    got = encoder.embed(clips)[:, 0]
    processor = AutoProcessor.from_pretrained(workdir / "qwen")
    model = copy.deepcopy(reference.model).to("cuda", torch.float16).eval()
    token = reference.config.audio_token_id
    worst = 0.0
    for clip, emb in zip(clips, got, strict=True):
        inputs = processor(
            text=[encoder.prompt], audio=[clip.numpy()], sampling_rate=16_000, return_tensors="pt"
        ).to("cuda")
        with torch.no_grad():
            last = model(**inputs).last_hidden_state.float()[0]
        want = last[inputs["input_ids"][0] == token].mean(0).cpu()
        worst = max(worst, float((emb - want).abs().max()))
    ok = worst < 2e-2 and str(next(encoder.model.parameters()).dtype) == "torch.float16"
    print(f"qwen2-audio decoder on cuda (fp16): max |emofx - HF| = {worst:.2e} -> {ok}")
    return ok


def mert_bf16_vs_fp32(workdir: Path) -> bool:
    write_mert(workdir / "mert330", TINY_MERT_330M)
    cpu = MertEncoder(str(workdir / "mert330"), window_s=1.0)
    gpu = copy.deepcopy(cpu).to("cuda")
    clip = [torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, 48_000).astype(np.float32))]
    want = cpu.embed(clip)[0]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        got = gpu.embed(clip)[0]
    cosine = torch.nn.functional.cosine_similarity(got, want, dim=-1)
    ok = bool(cosine.min() > 0.99)
    print(f"mert 330M-style bf16 cuda vs fp32 cpu: min cosine per layer {cosine.min():.4f} -> {ok}")
    return ok


def throughput(workdir: Path) -> None:
    seconds = 600.0
    for name, arch in (("MERT-v1-95M", MERT_V1_95M), ("MERT-v1-330M", MERT_V1_330M)):
        write_mert(workdir / name, arch)
        encoder = MertEncoder(str(workdir / name), window_batch_size=64).to("cuda")
        clip = torch.randn(int(seconds * encoder.sample_rate)) * 0.1
        with torch.autocast("cuda", dtype=torch.bfloat16):
            encoder.embed([clip[: 5 * encoder.sample_rate]])
            torch.cuda.synchronize()
            start = time.perf_counter()
            encoder.embed([clip])
            torch.cuda.synchronize()
        rate = seconds / (time.perf_counter() - start)
        print(f"{name} arch, cuda bf16 autocast, batch 64 x 5 s: {rate:,.0f} audio-s/s")


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        ok = qwen_decoder_parity(Path(tmp))
        ok &= mert_bf16_vs_fp32(Path(tmp))
        throughput(Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
