"""The taming-style VQGAN network, state-dict compatible with open-muse's ``VQGANModel``.

Written from the architecture's description; only the *names* of submodules (which make
up the state-dict keys) and the order of operations follow open-muse, so that the LVM
checkpoint loads with ``strict=True`` and gives the same codes.  Layout::

    encoder.conv_in
    encoder.down.{level}.block.{i}.{norm1,conv1,norm2,conv2,nin_shortcut}
    encoder.down.{level}.attn.{i}.{norm,q,k,v,proj_out}       (levels in attn_resolutions)
    encoder.down.{level}.downsample.conv                      (all levels but the last)
    encoder.mid.{block_1,attn_1,block_2}                      (attn_1 unless no_attn_mid_block)
    encoder.{norm_out,conv_out}
    quant_conv, quantize.embedding, post_quant_conv
    decoder.conv_in, decoder.mid.*, decoder.up.{level}.{block,attn,upsample.conv}, decoder.{norm_out,conv_out}

Behaviour kept from open-muse on purpose (it changes results, so a faithful port must
keep it): inside a resolution level, attention blocks are applied only when the level
has *more than one* of them; downsampling pads right/bottom by one pixel and uses a
stride-2 3x3 convolution without padding; the decoder's ``up`` list is indexed by level
(``up[0]`` is the full-resolution level) and run from the last level to the first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import GROUPNORM_EPS, NUM_GROUPS, VQGANConfig


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=NUM_GROUPS, num_channels=channels, eps=GROUPNORM_EPS, affine=True)


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1)


def _conv1x1(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0)


class ResnetBlock(nn.Module):
    """GN -> SiLU -> conv3x3 -> GN -> SiLU -> dropout -> conv3x3, plus a (1x1 projected) skip."""

    def __init__(self, c_in: int, c_out: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = _group_norm(c_in)
        self.conv1 = _conv3x3(c_in, c_out)
        self.norm2 = _group_norm(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _conv3x3(c_out, c_out)
        self.nin_shortcut = _conv1x1(c_in, c_out) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return h + skip


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1-conv projections."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _group_norm(channels)
        self.q = _conv1x1(channels, channels)
        self.k = _conv1x1(channels, channels)
        self.v = _conv1x1(channels, channels)
        self.proj_out = _conv1x1(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, height, width = x.shape
        n = height * width
        queries = self.q(h).reshape(b, c, n).permute(0, 2, 1)       # b, n, c
        keys = self.k(h).reshape(b, c, n)                            # b, c, n
        values = self.v(h).reshape(b, c, n)                          # b, c, n
        weights = torch.bmm(queries, keys) * (int(c) ** -0.5)       # b, n(query), n(key)
        weights = torch.softmax(weights, dim=2)
        out = torch.bmm(values, weights.permute(0, 2, 1))            # b, c, n(query)
        return self.proj_out(out.reshape(b, c, height, width)) + x


class Downsample(nn.Module):
    def __init__(self, channels: int, with_conv: bool):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.with_conv:
            return F.avg_pool2d(x, kernel_size=2, stride=2)
        # asymmetric padding: one zero column on the right, one zero row at the bottom
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Upsample(nn.Module):
    def __init__(self, channels: int, with_conv: bool):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = _conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class _Level(nn.Module):
    """One resolution level: ``block`` (ResnetBlocks), ``attn`` and an optional resampler."""

    def _run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        use_attn = len(self.attn) > 1  # open-muse's rule, see the module docstring
        for i, res_block in enumerate(self.block):
            x = res_block(x)
            if use_attn:
                x = self.attn[i](x)
        return x


class DownsamplingBlock(_Level):
    def __init__(self, cfg: VQGANConfig, level: int, curr_res: int):
        super().__init__()
        c_in = cfg.hidden_channels * ((1,) + cfg.channel_mult)[level]
        c_out = cfg.hidden_channels * cfg.channel_mult[level]
        blocks, attns = [], []
        for _ in range(cfg.num_res_blocks):
            blocks.append(ResnetBlock(c_in, c_out, cfg.dropout))
            c_in = c_out
            if curr_res in cfg.attn_resolutions:
                attns.append(AttnBlock(c_out))
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attns)
        last = level == cfg.num_resolutions - 1
        # c_in is the level's output width (its input width when num_res_blocks == 0)
        self.downsample = None if last else Downsample(c_in, cfg.resample_with_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._run_blocks(x)
        return x if self.downsample is None else self.downsample(x)


class UpsamplingBlock(_Level):
    def __init__(self, cfg: VQGANConfig, level: int, curr_res: int):
        super().__init__()
        mult = cfg.channel_mult
        c_in = cfg.hidden_channels * (mult[level + 1] if level + 1 < len(mult) else mult[-1])
        c_out = cfg.hidden_channels * mult[level]
        blocks, attns = [], []
        for _ in range(cfg.num_res_blocks + 1):
            blocks.append(ResnetBlock(c_in, c_out, cfg.dropout))
            c_in = c_out
            if curr_res in cfg.attn_resolutions:
                attns.append(AttnBlock(c_out))
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attns)
        self.upsample = None if level == 0 else Upsample(c_out, cfg.resample_with_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._run_blocks(x)
        return x if self.upsample is None else self.upsample(x)


class MidBlock(nn.Module):
    def __init__(self, channels: int, no_attn: bool, dropout: float):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = None if no_attn else AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block_1(x)
        if self.attn_1 is not None:
            x = self.attn_1(x)
        return self.block_2(x)


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.conv_in = _conv3x3(cfg.num_channels, cfg.hidden_channels)
        self.down = nn.ModuleList(
            DownsamplingBlock(cfg, level, cfg.resolution // 2**level) for level in range(cfg.num_resolutions)
        )
        width = cfg.hidden_channels * cfg.channel_mult[-1]
        self.mid = MidBlock(width, cfg.no_attn_mid_block, cfg.dropout)
        self.norm_out = _group_norm(width)
        self.conv_out = _conv3x3(width, cfg.z_channels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(pixels)
        for level in self.down:
            h = level(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        width = cfg.hidden_channels * cfg.channel_mult[-1]
        self.conv_in = _conv3x3(cfg.z_channels, width)
        self.mid = MidBlock(width, cfg.no_attn_mid_block, cfg.dropout)
        top = cfg.num_resolutions - 1
        self.up = nn.ModuleList(
            UpsamplingBlock(cfg, level, cfg.latent_size * 2 ** (top - level)) for level in range(cfg.num_resolutions)
        )
        out_width = cfg.hidden_channels * cfg.channel_mult[0]
        self.norm_out = _group_norm(out_width)
        self.conv_out = _conv3x3(out_width, cfg.num_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry lookup (squared L2), codebook in ``embedding.weight``."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)

    def compute_distances(self, z_flat: torch.Tensor) -> torch.Tensor:
        """|z|^2 + |e|^2 - 2 z.e for every (row of z_flat, codebook entry), as one addmm.

        The exact expression (and its evaluation as a single ``addmm``) matters for
        bit-equal codes with open-muse, because near-ties are decided by rounding.
        """
        codebook_t = self.embedding.weight.t()
        z_sq = z_flat.pow(2.0).sum(dim=1, keepdim=True)
        e_sq = codebook_t.pow(2.0).sum(dim=0, keepdim=True)
        return torch.addmm(z_sq + e_sq, z_flat, codebook_t, alpha=-2.0)

    def get_code(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, C, H, W) -> codes (B, H*W), row-major.  Always computed in float32."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            z_nhwc = z.float().permute(0, 2, 3, 1).contiguous()
            batch = z_nhwc.shape[0]
            distances = self.compute_distances(z_nhwc.reshape(-1, self.embedding_dim).float())
            return torch.argmin(distances, dim=1).reshape(batch, -1)

    def get_codebook_entry(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, T) with T a square -> quantized latents (B, C, sqrt(T), sqrt(T))."""
        batch, num_tokens = codes.shape
        side = int(round(num_tokens**0.5))
        if side * side != num_tokens:
            raise ValueError(f"number of tokens {num_tokens} is not a square")
        return self.embedding(codes).reshape(batch, side, side, -1).permute(0, 3, 1, 2)


class VQGANModel(nn.Module):
    """The network; ``state_dict()`` keys equal open-muse ``VQGANModel``'s for the same config."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.num_embeddings, cfg.quantized_embed_dim)
        self.quant_conv = _conv1x1(cfg.z_channels, cfg.quantized_embed_dim)
        self.post_quant_conv = _conv1x1(cfg.quantized_embed_dim, cfg.z_channels)

    def get_code(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, C, H, W) in [0, 1] -> codes (B, (H/f)*(W/f)) int64."""
        return self.quantize.get_code(self.quant_conv(self.encoder(pixels)))

    def decode_code(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, T) -> reconstructed pixels (B, C, H, W), nominally in [0, 1] (not clamped)."""
        z_q = self.quantize.get_codebook_entry(codes)
        return self.decoder(self.post_quant_conv(z_q.to(self.post_quant_conv.weight.dtype)))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.get_code(pixels)
