#!/usr/bin/env python
"""Make the reference-codes fixture that proves our VQGAN gives open-muse's codes.

    python tools/make_reference_codes.py --open-muse /path/to/open-muse-checkout \
        --out tests/tokenizer/fixtures/reference_codes.json

What it does:
  1. imports ``VQGANModel`` from the *given* open-muse checkout (``muse/modeling_taming_vqgan.py``;
     nothing of open-muse is copied into this project).  Only open-muse's helper module
     ``muse.modeling_utils`` (config/hub mixins that need accelerate and huggingface_hub) is
     replaced at run time by a small stub; the architecture file runs unmodified;
  2. builds it with the LVM config and fills its state dict with :func:`reference_weights`,
     a deterministic recipe that uses only the reference's own key names and shapes (not our
     code), and loads them with ``strict=True``;
  3. preprocesses a few real photographs bundled with scikit-image (read from the package's
     data folder with PIL, no download) with LVM's protocol (our ``preprocess``), runs the
     reference ``get_code`` on them as one batch, and writes a JSON fixture: codes, image
     names, the weight recipe, the reference's sorted key list with shapes, hashes.

``tests/tokenizer/test_reference_codes.py`` imports this file for the recipe and the photo
list (importing it does not need open-muse) and checks our model reproduces the codes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
import types
from typing import Mapping

import numpy as np

SEED = 0
# (fixture name, file in skimage's bundled data folder, centre crop?)
PHOTOS = (
    ("astronaut", "astronaut.png", False),   # 512x512
    ("coffee", "coffee.png", False),         # 600x400, squashed
    ("chelsea", "chelsea.png", False),       # 451x300, squashed
    ("chelsea_crop", "chelsea.png", True),   # centre crop of an odd-width image
)
LVM_CONFIG = dict(
    resolution=256, num_channels=3, hidden_channels=128, channel_mult=[1, 2, 2, 4, 6],
    num_res_blocks=2, attn_resolutions=[], no_attn_mid_block=True, z_channels=64,
    num_embeddings=8192, quantized_embed_dim=64, dropout=0.0, resample_with_conv=True,
    commitment_cost=0.25,
)
# the project's reduced "tiny" preset (fast tests); open-muse builds and runs it unchanged
TINY_CONFIG = dict(LVM_CONFIG, hidden_channels=32, channel_mult=[1, 1, 1, 1, 1], num_res_blocks=0,
                   z_channels=32, quantized_embed_dim=32)
# a small config that exercises the attention blocks (open-muse's default config has them):
# encoder levels at 32x32 and 16x16 get two AttnBlocks each, plus the mid-block attention
ATTN_CONFIG = dict(TINY_CONFIG, channel_mult=[1, 1, 1, 1, 2], num_res_blocks=2,
                   attn_resolutions=[16, 32], no_attn_mid_block=False)
CONFIGS = {"lvm": LVM_CONFIG, "tiny": TINY_CONFIG, "attn": ATTN_CONFIG}
WEIGHTS_RECIPE = (
    "rng = numpy.random.default_rng(seed); for each state-dict key in sorted order draw, in float64, "
    "then cast to float32: 4-D (conv weight) standard_normal(shape) / sqrt(fan_in = shape[1]*shape[2]*shape[3]); "
    "2-D (codebook) standard_normal(shape) with every row divided by its L2 norm; "
    "1-D key ending in '.weight' (GroupNorm gain) 1 + 0.2 * standard_normal(shape); "
    "any other 1-D (bias) 0.05 * standard_normal(shape)."
)


def reference_weights(shapes: Mapping[str, tuple[int, ...]], seed: int = SEED) -> dict[str, np.ndarray]:
    """The recipe in WEIGHTS_RECIPE: name -> float32 array, from names and shapes only."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(shapes):
        shape = tuple(int(s) for s in shapes[name])
        if len(shape) == 4:
            values = rng.standard_normal(shape) / np.sqrt(shape[1] * shape[2] * shape[3])
        elif len(shape) == 2:
            values = rng.standard_normal(shape)
            values = values / np.linalg.norm(values, axis=1, keepdims=True)
        elif len(shape) == 1 and name.endswith(".weight"):
            values = 1.0 + 0.2 * rng.standard_normal(shape)
        elif len(shape) == 1:
            values = 0.05 * rng.standard_normal(shape)
        else:
            raise ValueError(f"no rule for {name} {shape}")
        out[name] = values.astype(np.float32)
    return out


def weights_sha256(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 over sorted 'name|shape' lines each followed by the float32 little-endian bytes."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        arr = np.ascontiguousarray(weights[name], dtype="<f4")
        digest.update(f"{name}|{list(arr.shape)}\n".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def photo_path(file_name: str) -> str:
    import skimage.data  # scikit-image ships these photographs inside the package

    path = os.path.join(os.path.dirname(skimage.data.__file__), file_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: not bundled with this scikit-image")
    return path


def load_photos() -> tuple[list[str], np.ndarray]:
    """Names and uint8 [N,256,256,3] arrays, preprocessed with LVM's protocol (our preprocess)."""
    from PIL import Image

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from uvd_pipeline.tokenizer import preprocess

    names, arrays = [], []
    for name, file_name, crop in PHOTOS:
        with Image.open(photo_path(file_name)) as img:
            arrays.append(preprocess(img, center_crop=crop))
        names.append(name)
    return names, np.stack(arrays)


# ---------------------------------------------------------------------------------------
# STUB for open-muse's muse/modeling_utils.py (run time only, nothing written to disk).
# The real module provides hub download/save mixins and needs accelerate + huggingface_hub;
# VQGANModel only uses ConfigMixin/ModelMixin as bases and @register_to_config, which stores
# the constructor arguments (defaults filled in) as an attribute-style, writable self.config.
# ---------------------------------------------------------------------------------------
def _modeling_utils_stub() -> types.ModuleType:
    import functools

    import torch

    stub = types.ModuleType("muse.modeling_utils")

    class ModelMixin(torch.nn.Module):
        pass

    class ConfigMixin:
        config_name = "config.json"

        @property
        def config(self):
            return self._internal_dict

    def register_to_config(init):
        signature = inspect.signature(init)

        @functools.wraps(init)
        def inner(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            values = {k: v for k, v in bound.arguments.items() if k != "self" and not k.startswith("_")}
            object.__setattr__(self, "_internal_dict", types.SimpleNamespace(**values))
            init(self, *args, **kwargs)

        return inner

    stub.ModelMixin, stub.ConfigMixin, stub.register_to_config = ModelMixin, ConfigMixin, register_to_config
    return stub


def import_open_muse_vqgan(checkout: str):
    """Return open-muse's VQGANModel class from ``checkout`` (the repo root or its muse/ folder)."""
    checkout = os.path.abspath(checkout)
    muse_dir = checkout if os.path.basename(checkout) == "muse" else os.path.join(checkout, "muse")
    source = os.path.join(muse_dir, "modeling_taming_vqgan.py")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source} not found: --open-muse must point at an open-muse checkout")
    package = types.ModuleType("muse")
    package.__path__ = [muse_dir]  # so the file's relative import resolves inside "muse"
    sys.modules["muse"] = package
    sys.modules["muse.modeling_utils"] = _modeling_utils_stub()
    spec = importlib.util.spec_from_file_location("muse.modeling_taming_vqgan", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.VQGANModel, source


def _compact_json(data) -> str:
    """Indented JSON with number lists (codes, shapes) and [name, shape] pairs on one line."""
    text = json.dumps(data, indent=1)
    text = re.sub(r"\[\s*((?:-?[\d.e+-]+,\s*)*-?[\d.e+-]+)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    text = re.sub(r'\[\s*("[^"]*"),\s*(\[[^\]]*\])\s*\]', r"[\1, \2]", text)
    return text + "\n"


def _git_revision(path: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-muse", required=True, help="path to an open-muse checkout")
    parser.add_argument("--open-muse-revision", default=None,
                        help="commit of that checkout to record (default: git rev-parse HEAD there)")
    parser.add_argument("--out", default="tests/tokenizer/fixtures/reference_codes.json")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import PIL
    import skimage
    import torch

    torch.manual_seed(0)
    vqgan_cls, source = import_open_muse_vqgan(args.open_muse)
    names, images = load_photos()
    # exactly LVM's input: np.array(img) / 255.0 (float64), then .float(), HWC -> CHW
    pixels = torch.from_numpy(images.astype(np.float64) / 255.0).float().permute(0, 3, 1, 2).contiguous()

    models = {}
    for preset, config in CONFIGS.items():
        model = vqgan_cls(**config).eval()
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        weights = reference_weights(shapes, args.seed)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
        with torch.no_grad():
            codes = model.get_code(pixels).numpy()  # one batch of len(PHOTOS) images
            # gap between the best and second-best codebook distance: how close the ties were
            z = model.quant_conv(model.encoder(pixels)).permute(0, 2, 3, 1).contiguous()
            top2 = torch.topk(model.quantize.compute_distances(z), 2, dim=1, largest=False).values
            gaps = (top2[:, 1] - top2[:, 0]).reshape(len(names), -1).numpy()
        models[preset] = {
            "config": config,
            "weights_sha256": weights_sha256(weights),
            "reference_keys": [[k, list(shapes[k])] for k in sorted(shapes)],
            "batch_size": len(names),
            "distinct_codes": int(len(np.unique(codes))),
            "min_distance_gap": [float(g.min()) for g in gaps],
            "codes": {name: [int(c) for c in codes[i]] for i, name in enumerate(names)},
        }
        print(f"{preset}: {len(names)} images, {len(np.unique(codes))} distinct codes of {codes.size}, "
              f"smallest distance gap {float(gaps.min()):.3g}")

    with open(source, "rb") as fh:
        source_sha = hashlib.sha256(fh.read()).hexdigest()
    fixture = {
        "description": "open-muse VQGANModel.get_code on LVM-preprocessed photos, deterministic random weights",
        "command": "python tools/make_reference_codes.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "open_muse": {"file": "muse/modeling_taming_vqgan.py", "file_sha256": source_sha,
                      "revision": args.open_muse_revision or _git_revision(os.path.dirname(source))},
        "seed": args.seed,
        "weights_recipe": WEIGHTS_RECIPE,
        "images": [
            {"name": name, "file": f"skimage/data/{file_name}", "center_crop": crop,
             "preprocessed_sha256": hashlib.sha256(images[i].tobytes()).hexdigest()}
            for i, (name, file_name, crop) in enumerate(PHOTOS)
        ],
        "models": models,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
                     "scikit-image": skimage.__version__},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(_compact_json(fixture))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
