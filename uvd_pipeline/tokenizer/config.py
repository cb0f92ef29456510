"""Configuration of the taming-style VQGAN used by LVM.

The field names are those of open-muse's ``VQGANModel`` ``config.json`` so that the
released LVM checkpoint folder loads unchanged.  Fields missing from a ``config.json``
take open-muse's constructor defaults (that is what open-muse itself does); the LVM
values are in :data:`PRESETS`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

# GroupNorm in every block uses 32 groups, so every width must be a multiple of 32.
NUM_GROUPS = 32
GROUPNORM_EPS = 1e-6
CONFIG_NAME = "config.json"
# What open-muse writes next to the fields; kept so our folders look like theirs.
CLASS_NAME = "VQGANModel"
OPEN_MUSE_VERSION = "0.0.1"

# Sane bounds on what a config.json may ask for (checked before any model is built: a 1 KB file
# could otherwise ask for hundreds of GB). The LVM release is far inside every one of them:
# resolution 256, widths up to 768, 5 levels, 2 blocks, z 64, 146M parameters, 33 MB per image.
LIMITS = {
    "resolution": 1024,
    "num_channels": 16,
    "hidden_channels": 4096,
    "num_res_blocks": 8,
    "z_channels": 2048,
    "quantized_embed_dim": 2048,
}
MAX_WIDTH = 4096  # hidden_channels * channel_mult[i], the widest layer
MAX_LEVELS = 8  # len(channel_mult)
MAX_ATTN_RESOLUTIONS = 8
MAX_ACTIVATION_BYTES = 1 << 30  # the largest float32 feature map of one image (width * side**2 * 4)


@dataclass(frozen=True)
class VQGANConfig:
    """Hyper-parameters of the VQGAN (open-muse ``VQGANModel`` field names/defaults)."""

    resolution: int = 256
    num_channels: int = 3
    hidden_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    no_attn_mid_block: bool = False
    z_channels: int = 256
    num_embeddings: int = 1024
    quantized_embed_dim: int = 256
    dropout: float = 0.0
    resample_with_conv: bool = True
    commitment_cost: float = 0.25

    def __post_init__(self) -> None:
        # Normalise lists from JSON into tuples so the config stays hashable.
        for name in ("channel_mult", "attn_resolutions"):
            try:
                object.__setattr__(self, name, tuple(int(m) for m in getattr(self, name)))
            except (OverflowError, ValueError, TypeError):  # inf, NaN, a string: JSON allows them all
                raise ValueError(f"VQGANConfig.{name}: must be a list of integers (got {getattr(self, name)!r})") from None
        self._validate()

    # ---- derived quantities (open-muse computes the same ones) ----
    @property
    def num_resolutions(self) -> int:
        return len(self.channel_mult)

    @property
    def reduction_factor(self) -> int:
        return 2 ** (self.num_resolutions - 1)

    @property
    def latent_size(self) -> int:
        return self.resolution // self.reduction_factor

    @property
    def num_tokens(self) -> int:
        return self.latent_size**2

    def _validate(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"VQGANConfig.{name}: {why} (got {getattr(self, name)!r})")

        for name in ("resolution", "num_channels", "hidden_channels", "z_channels",
                     "num_embeddings", "quantized_embed_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise bad(name, "must be a positive integer")
        if isinstance(self.num_res_blocks, bool) or not isinstance(self.num_res_blocks, int) \
                or self.num_res_blocks < 0:
            raise bad("num_res_blocks", "must be an integer >= 0")
        for name, limit in LIMITS.items():
            if getattr(self, name) > limit:
                raise bad(name, f"at most {limit} (a sane bound)")
        if not self.channel_mult or any(m <= 0 for m in self.channel_mult):
            raise bad("channel_mult", "must be a non-empty list of positive integers")
        if len(self.channel_mult) > MAX_LEVELS:
            raise bad("channel_mult", f"at most {MAX_LEVELS} levels")
        if len(self.attn_resolutions) > MAX_ATTN_RESOLUTIONS:
            raise bad("attn_resolutions", f"at most {MAX_ATTN_RESOLUTIONS} entries")
        if self.num_res_blocks == 0 and any(m != 1 for m in self.channel_mult):
            # with no encoder ResnetBlocks nothing changes the width between levels
            raise bad("channel_mult", "must be all 1 when num_res_blocks is 0")
        if self.resolution % self.reduction_factor:
            raise bad("resolution", f"must be divisible by 2**(len(channel_mult)-1)={self.reduction_factor}")
        widths = [self.hidden_channels * m for m in self.channel_mult]
        if any(w % NUM_GROUPS for w in widths):
            raise bad("hidden_channels", f"hidden_channels*channel_mult must be multiples of {NUM_GROUPS} "
                                         f"(GroupNorm groups); widths would be {widths}")
        if max(widths) > MAX_WIDTH:
            raise bad("channel_mult", f"hidden_channels*channel_mult must be at most {MAX_WIDTH}; widths would be {widths}")
        activation = max(w * (self.resolution >> i) ** 2 * 4 for i, w in enumerate(widths))
        if activation > MAX_ACTIVATION_BYTES:
            raise bad("resolution", f"with widths {widths} one image's largest feature map is {activation / 2**30:.1f} GiB, "
                                    f"over the {MAX_ACTIVATION_BYTES / 2**30:.0f} GiB bound")
        if self.num_embeddings > 65536:
            raise bad("num_embeddings", "codes are stored as uint16, so at most 65536")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise bad("dropout", "must be in [0, 1)")

    # ---- (de)serialisation ----
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["channel_mult"] = list(self.channel_mult)
        out["attn_resolutions"] = list(self.attn_resolutions)
        return out

    def to_json_string(self) -> str:
        """The ``config.json`` text, laid out like open-muse's (sorted keys, indent 2)."""
        data = {"_class_name": CLASS_NAME, "_version": OPEN_MUSE_VERSION, **self.to_dict()}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> "VQGANConfig":
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in data if k not in known and not str(k).startswith("_"))
        if unknown:
            warnings.warn(f"{source}: ignoring unknown VQGAN config keys {unknown}", stacklevel=2)
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in ("channel_mult", "attn_resolutions"):
            if name in kwargs and not isinstance(kwargs[name], (list, tuple)):
                raise ValueError(f"{source}: field {name!r} must be a list, got {kwargs[name]!r}")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: invalid VQGAN config: {exc}") from exc

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "VQGANConfig":
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"VQGAN config not found: {path}")
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable JSON VQGAN config: {exc}") from exc
        return cls.from_dict(data, source=path)

    def replace(self, **changes: Any) -> "VQGANConfig":
        return dataclasses.replace(self, **changes)


# The LVM release (open-muse VQGANModel, f=16, 16x16 codes, codebook 8192).
LVM_CONFIG = VQGANConfig(
    resolution=256,
    num_channels=3,
    hidden_channels=128,
    channel_mult=(1, 2, 2, 4, 6),
    num_res_blocks=2,
    attn_resolutions=(),
    no_attn_mid_block=True,
    z_channels=64,
    num_embeddings=8192,
    quantized_embed_dim=64,
    dropout=0.0,
    resample_with_conv=True,
    commitment_cost=0.25,
)

# Same family (f=16 -> 16x16 codes, codebook 8192, no attention, conv resampling), cut down
# for tests and plumbing on CPU: width 32 (the narrowest GroupNorm(32) allows) at every level
# and no encoder ResnetBlocks (num_res_blocks=0; the decoder then has one per level), so the
# encoder is conv_in, four stride-2 convs, the mid block and conv_out.  open-muse builds and
# runs this config too.  ~0.5M parameters, ~0.5 GFLOP per image encode.
TINY_CONFIG = LVM_CONFIG.replace(
    hidden_channels=32,
    channel_mult=(1, 1, 1, 1, 1),
    num_res_blocks=0,
    z_channels=32,
    quantized_embed_dim=32,
)

PRESETS: dict[str, VQGANConfig] = {"lvm": LVM_CONFIG, "tiny": TINY_CONFIG}

__all__ = ["VQGANConfig", "PRESETS", "LVM_CONFIG", "TINY_CONFIG", "CONFIG_NAME",
           "NUM_GROUPS", "GROUPNORM_EPS"]
