"""Benchmark: the pipeline's tokenizer stage against a bare loop of model forwards, in one run.

Both use the real LVM VQGAN config (random weights, `VQGAN.random("lvm")`) on the same device and
the same images (uint8 256x256x3, random, made once in host memory).

  pipeline  uvd_pipeline.pipeline.tokenize.TokenizerStage.encode on host uint8 arrays, as an
            engine calls it: pinned host buffer -> device, /255 lookup, channels_last, --dtype
            (default bfloat16 autocast; float32 with --tf32 or IEEE), fixed micro-batches, codes
            copied back as uint16
  bare      the same network's get_code() on a float batch already on the device, in the same
            layout and precision: no host transfer, no conversion, no copy back

Prints images/s for both and pipeline / bare (1.0 = the pipeline adds nothing), checks that both
give the same codes, and prints one JSON object last. Runs unattended.

Usage (GPU): python bench/gpu_tokenize.py [--images 2048] [--batch-size 64] [--rounds 3]
Smoke (CPU): python bench/gpu_tokenize.py --device cpu --images 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from uvd_pipeline.pipeline.tokenize import TokenizerStage
from uvd_pipeline.recipe import TokenizerSpec
from uvd_pipeline.tokenizer.vqgan import cuda_tf32

PIXEL_LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)  # x/255 as LVM computes it


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pipeline_pass(stage: TokenizerStage, images: np.ndarray, call_images: int) -> tuple[float, np.ndarray]:
    """Encode every image through the stage, `call_images` per call (as an engine batches)."""
    sync(stage.model.device)
    start = time.perf_counter()
    codes = [stage.encode(images[i : i + call_images]) for i in range(0, len(images), call_images)]
    sync(stage.model.device)
    return time.perf_counter() - start, np.concatenate(codes)


def device_batches(stage: TokenizerStage, images: np.ndarray) -> list[torch.Tensor]:
    """The images as float NCHW batches on the device, in the layout the stage feeds the model."""
    model = stage.model
    fmt = torch.channels_last if model.device.type == "cuda" else torch.contiguous_format
    out = []
    for i in range(0, len(images), model.batch_size):
        chunk = images[i : i + model.batch_size]
        if len(chunk) < model.batch_size:  # the stage pads the last micro-batch; so does the loop
            chunk = np.concatenate([chunk, np.zeros((model.batch_size - len(chunk),) + chunk.shape[1:], np.uint8)])
        x = torch.from_numpy(PIXEL_LUT[chunk]).permute(0, 3, 1, 2)
        out.append(x.to(model.device).contiguous(memory_format=fmt))
    return out


def bare_pass(stage: TokenizerStage, batches: list[torch.Tensor], n: int) -> tuple[float, np.ndarray]:
    model = stage.model
    enabled = model.dtype != torch.float32
    sync(model.device)
    start = time.perf_counter()
    codes = []
    with torch.inference_mode(), cuda_tf32(model.tf32 if model.device.type == "cuda" else None):
        for x in batches:
            with torch.autocast(device_type=model.device.type, dtype=model.dtype, enabled=enabled):
                codes.append(model.model.get_code(x))
    sync(model.device)
    elapsed = time.perf_counter() - start
    return elapsed, torch.cat(codes)[:n].cpu().numpy().astype(np.uint16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="lvm", choices=["lvm", "tiny"])
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--tf32", action="store_true", help="with --dtype float32 on CUDA: TF32 convolutions/matmuls")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=64, help="micro-batch the model runs (capped at --images)")
    ap.add_argument("--call-images", type=int, default=0, help="images per encode call (default 4 x batch size)")
    ap.add_argument("--rounds", type=int, default=0, help="timed rounds per path (default 3 on CUDA, 1 on CPU)")
    ap.add_argument("--warmup", type=int, default=-1, help="warm-up micro-batches per path (default 2 on CUDA, 0 on CPU)")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN pick kernels (both paths)")
    args = ap.parse_args()

    device = torch.device(args.device)
    rounds = args.rounds or (3 if device.type == "cuda" else 1)
    batch = max(1, min(args.batch_size, args.images))
    call_images = args.call_images or 4 * batch
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    spec = TokenizerSpec(preset=args.preset, batch_size=batch, device=device.type, dtype=args.dtype, tf32=args.tf32)
    stage = TokenizerStage(spec, device=str(device))
    images = np.random.default_rng(0).integers(0, 256, (args.images, 256, 256, 3), dtype=np.uint8)
    batches = device_batches(stage, images)

    warmup = args.warmup if args.warmup >= 0 else (2 if device.type == "cuda" else 0)
    for _ in range(warmup):  # kernels, allocator, pinned buffer
        stage.encode(images[:batch])
        bare_pass(stage, batches[:1], batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    pipe_t, bare_t = [], []
    for _ in range(rounds):  # alternate, so drift (clocks, other load) hits both alike
        t, pipe_codes = pipeline_pass(stage, images, call_images)
        pipe_t.append(t)
        t, bare_codes = bare_pass(stage, batches, args.images)
        bare_t.append(t)
    pipe_s, bare_s = statistics.median(pipe_t), statistics.median(bare_t)

    result = {
        "benchmark": "gpu_tokenize",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)",
        "host": platform.node(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "preset": args.preset,
        "dtype": str(stage.model.dtype).removeprefix("torch."),
        "channels_last": device.type == "cuda",
        "pinned_memory": device.type == "cuda",
        "images": args.images,
        "batch_size": batch,
        "call_images": call_images,
        "rounds": rounds,
        "pipeline_images_per_s": round(args.images / pipe_s, 2),
        "bare_images_per_s": round(args.images / bare_s, 2),
        "ratio_pipeline_over_bare": round(bare_s / pipe_s, 3),
        "codes_equal_fraction": round(float((pipe_codes == bare_codes).mean()), 6),
        "pipeline_runs_s": [round(t, 3) for t in pipe_t],
        "bare_runs_s": [round(t, 3) for t in bare_t],
    }
    if device.type == "cuda":
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    print(f"pipeline tokenizer stage: {result['pipeline_images_per_s']} images/s")
    print(f"bare model forwards:      {result['bare_images_per_s']} images/s")
    print(f"pipeline / bare:          {result['ratio_pipeline_over_bare']}")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
