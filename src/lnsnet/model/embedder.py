"""Feature embedder module (FEM), Sec. 3.2, Eqs. (1)-(2).

An ASPP-style block of three dilated 3x3 convolutions on the 5-channel LAB+position input,
then two 3x3 convolutions, each followed by InstanceNorm and ReLU. As in the official
release, the input is concatenated to the ASPP output and again before the last layer.
Padding replicates the border (reflection padding fails on images thinner than the
dilation), so any image of at least 1x1 pixel goes through.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeatureEmbedder", "InputEmbedder", "moments", "stats_from_moments"]


def _norm(x: torch.Tensor, norm: nn.InstanceNorm2d) -> torch.Tensor:
    """InstanceNorm that also accepts a 1x1 image (its normalised value is 0, so the
    output is the affine bias)."""
    if x.shape[-1] * x.shape[-2] > 1:
        return norm(x)
    return x * 0.0 + norm.bias.reshape(1, -1, 1, 1)


def _conv3x3(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    d = conv.dilation[0]
    return conv(F.pad(x, (d, d, d, d), mode="replicate"))


class FeatureEmbedder(nn.Module):
    """``(B, 5, H, W)`` standardised LAB+position -> ``(B, C_2, H, W)`` features Z.

    Parameters
    ----------
    in_channels : int
        Input channels (5: L, a, b, row, col).
    c_m, c_1, c_2 : int
        Channels per ASPP branch, of the first and of the second 3x3 convolution
        (the paper: 10, 10, 20).
    dilations : sequence of int
        Dilation of each ASPP branch. The paper's figure: (1, 3, 5); the official release
        uses (1, 1, 2).
    """

    def __init__(
        self,
        in_channels: int = 5,
        c_m: int = 10,
        c_1: int = 10,
        c_2: int = 20,
        dilations: Sequence[int] = (1, 3, 5),
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, c_m, 3, dilation=int(d)) for d in dilations
        )
        c_aspp = in_channels + c_m * len(self.branches)
        self.norm0 = nn.InstanceNorm2d(c_aspp, affine=True)
        self.conv1 = nn.Conv2d(c_aspp, c_1, 3)
        self.norm1 = nn.InstanceNorm2d(c_1, affine=True)
        self.conv2 = nn.Conv2d(c_1 + in_channels, c_2, 3)
        self.norm2 = nn.InstanceNorm2d(c_2, affine=True)
        self.out_channels = c_2

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, generator=generator)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.InstanceNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            h = torch.cat([x] + [_conv3x3(x, b) for b in self.branches], dim=1)
            h = F.relu(_norm(h, self.norm0))
            h = F.relu(_norm(_conv3x3(h, self.conv1), self.norm1))
            h = torch.cat([h, x], dim=1)
            return F.relu(_norm(_conv3x3(h, self.conv2), self.norm2))
        # inference: the same function with a cheaper InstanceNorm (one fused scale-shift)
        return self.forward_band(x, True, True, [None, None, None], 3)

    # ------------------------------------------------------------------ banded inference
    @property
    def halo(self) -> int:
        """Rows of context one output row needs above and below it."""
        return max(b.dilation[0] for b in self.branches) + 2

    @property
    def norms(self) -> tuple[nn.InstanceNorm2d, nn.InstanceNorm2d, nn.InstanceNorm2d]:
        return self.norm0, self.norm1, self.norm2

    def forward_band(self, x: torch.Tensor, top: bool, bottom: bool, stats: list, stage: int) -> torch.Tensor:
        """Inference on a band of full-width rows (no autograd).

        ``top``/``bottom`` say whether the band's first/last row is the image border
        (replicate padding there) or an interior cut (no padding: the output loses
        ``halo`` rows on that side, computed exactly from the context). ``stats[i]`` is
        ``(mean, var)`` ``(B, C)`` of InstanceNorm ``i`` over the whole image, or ``None`` to
        take it from this band (= plain InstanceNorm when the band is the image).
        ``stage`` 0/1/2 returns the input of norm 0/1/2 (to gather statistics), 3 the
        features Z. Output rows: the band's rows less ``halo_of(stage)`` per interior side.
        On the CPU the tensors are channels-last (:meth:`_forward_band_nhwc`): the outputs
        too, with the logical shape ``(B, C, H, W)`` all the same.
        """
        if x.device.type == "cpu" and not torch.is_grad_enabled():
            return self._forward_band_nhwc(x, top, bottom, stats, stage)
        return self._forward_band_nchw(x, top, bottom, stats, stage)

    def _forward_band_nchw(self, x: torch.Tensor, top: bool, bottom: bool, stats: list,
                           stage: int) -> torch.Tensor:
        """:meth:`forward_band` in NCHW memory, each step a torch operation (on GPUs; on
        the CPU until 2026-12-03)."""
        dmax = max(b.dilation[0] for b in self.branches)
        it, ib = int(not top), int(not bottom)
        outs = [_crop(_band_conv(x, b, top, bottom), (dmax - b.dilation[0]) * it, (dmax - b.dilation[0]) * ib)
                for b in self.branches]
        h = torch.cat([_crop(x, dmax * it, dmax * ib)] + outs, dim=1)
        if stage == 0:
            return h
        h = _scale_shift_relu(h, self.norm0, stats[0])
        h = _band_conv(h, self.conv1, top, bottom)
        if stage == 1:
            return h
        h = _scale_shift_relu(h, self.norm1, stats[1])
        h = torch.cat([h, _crop(x, (dmax + 1) * it, (dmax + 1) * ib)], dim=1)
        h = _band_conv(h, self.conv2, top, bottom)
        if stage == 2:
            return h
        return _scale_shift_relu(h, self.norm2, stats[2])

    def _forward_band_nhwc(self, x: torch.Tensor, top: bool, bottom: bool, stats: list,
                           stage: int) -> torch.Tensor:
        """:meth:`forward_band` on the CPU in channels-last memory (faster convolutions), the
        normalisation, concatenation and padding between them in one compiled pass each
        (:mod:`lnsnet.model.nhwc`). The same function; sums are taken in another order."""
        from . import nhwc

        dmax = max(b.dilation[0] for b in self.branches)
        it, ib = int(not top), int(not bottom)
        xc = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for b in self.branches:
            d = b.dilation[0]
            xp = nhwc.norm_relu_pad(None, None, None, xc, (d if top else 0, d if bottom else 0, d))
            outs.append(_crop(b(xp), (dmax - d) * it, (dmax - d) * ib))
        h = torch.cat([_crop(xc, dmax * it, dmax * ib)] + outs, dim=1)
        if stage == 0:
            return h
        h = nhwc.norm_relu_pad(h, *_affine(h, self.norm0, stats[0]), pad=(int(top), int(bottom), 1))
        h = self.conv1(h)
        if stage == 1:
            return h
        h = nhwc.norm_relu_pad(h, *_affine(h, self.norm1, stats[1]),
                               extra=_crop(xc, (dmax + 1) * it, (dmax + 1) * ib), pad=(int(top), int(bottom), 1))
        h = self.conv2(h)
        if stage == 2:
            return h
        return self.finish(h, stats[2])

    def finish(self, h: torch.Tensor, stats) -> torch.Tensor:
        """Z from the output of :meth:`forward_band` at stage 2 (the last convolution) and the
        last InstanceNorm's statistics ``stats`` ``(mean, var)``: that stage's remaining step,
        as :meth:`forward_band` at stage 3 takes it."""
        if h.device.type == "cpu" and not torch.is_grad_enabled():
            from . import nhwc

            return nhwc.norm_relu_pad(h, *_affine(h, self.norm2, stats))
        return _scale_shift_relu(h.clone(), self.norm2, stats)

    def halo_of(self, stage: int) -> int:
        dmax = max(b.dilation[0] for b in self.branches)
        return dmax + min(stage, 2)


class InputEmbedder(nn.Module):
    """The measuring stick of the learned features: ``Z`` = the first ``channels`` input
    channels (the standardised CIELAB), no parameters. Run through the same seeds,
    clustering and connectivity as the network (``lnsnet.segment(..., model="none")``), it
    shows what the learning adds over its own input."""

    halo = 0

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.out_channels]

    def forward_band(self, x: torch.Tensor, top: bool, bottom: bool, stats: list, stage: int) -> torch.Tensor:
        """The band's input channels at every stage (no context needed: no halo)."""
        return x[:, : self.out_channels]

    def finish(self, h: torch.Tensor, stats) -> torch.Tensor:
        """Z from the stage-2 output (the input channels themselves)."""
        return h

    def halo_of(self, stage: int) -> int:
        return 0


def _crop(t: torch.Tensor, top: int, bottom: int) -> torch.Tensor:
    return t[:, :, top : t.shape[2] - bottom] if (top or bottom) else t


def _band_conv(x: torch.Tensor, conv: nn.Conv2d, top: bool, bottom: bool) -> torch.Tensor:
    d = conv.dilation[0]
    return conv(F.pad(x, (d, d, d if top else 0, d if bottom else 0), mode="replicate"))


def moments(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per (image, channel) sums of ``h`` and ``h**2`` in float64, and the pixel count."""
    if h.device.type == "cpu" and h.dim() == 4 and not h.requires_grad and h.stride(1) == 1 and h.shape[1] > 1:
        from . import nhwc  # channels-last (the CPU inference's layout): torch's reductions are slow there

        return nhwc.moments(h)
    # float32 reductions (a float64 reduction is ~50x slower on CPU), accumulated in float64
    s1 = h.sum((2, 3)).double()
    s2 = torch.linalg.vector_norm(h, dim=(2, 3)).double().square()
    return s1, s2, h.shape[2] * h.shape[3]


def stats_from_moments(s1: torch.Tensor, s2: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, biased variance) ``(B, C)`` float32 from :func:`moments` summed over bands."""
    mean = s1 / n
    var = (s2 / n - mean * mean).clamp_min(0.0)
    return mean.float(), var.float()


def _affine(h: torch.Tensor, norm: nn.InstanceNorm2d, stats) -> tuple[torch.Tensor, torch.Tensor]:
    """InstanceNorm's ``(scale, shift)`` ``(B, C)`` with given or ``h``'s own statistics."""
    mean, var = stats if stats is not None else stats_from_moments(*moments(h))
    scale = norm.weight[None] * torch.rsqrt(var + norm.eps)
    return scale, norm.bias[None] - mean * scale


def _scale_shift_relu(h: torch.Tensor, norm: nn.InstanceNorm2d, stats) -> torch.Tensor:
    """ReLU(InstanceNorm(h)) with given or own statistics, computed in place on ``h``."""
    scale, shift = _affine(h, norm, stats)
    return h.mul_(scale[:, :, None, None]).add_(shift[:, :, None, None]).relu_()
