"""The contour head: a small network that maps the clustering's colour to a contour map
``B`` in [0, 1], learned without labels by distilling a slow hand-made detector
(:func:`lnsnet.features.halfdisc_contours`, the half-disc colour gradients of Pb), image
after image in the lifelong stream (:mod:`lnsnet.train`). The compact clustering's spatial
term is weakened where ``B`` is high (:func:`contour_factor`; ``ClusterOptions.contour``),
so superpixel borders follow the contours it sees beyond the colour steps of one pixel.

Why it exists: the feature embedder adds almost nothing to its own input in the compact
clustering, while a contour prior in the spatial term does (``docs/learning.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ContourHead", "contour_factor", "HEAD_HALO"]

#: rows of context a band of the head's output needs on each side (its receptive field at
#: half resolution, 1 + 2 + 4 + 8 pixels, doubled, plus the pooling and the upsampling)
HEAD_HALO = 34
#: the head runs on bands of at most this many pixels (bounded memory on large images)
BAND_PIXELS = 1 << 21


class ContourHead(nn.Module):
    """``(B, 3, H, W)`` colour -> ``(B, 1, H, W)`` contour map in [0, 1].

    At half resolution (2x2 average pooling): four 3x3 convolutions of ``width`` channels
    with dilations 1, 2, 4, 8 and ReLU (replicate padding, so any image size works), a 1x1
    convolution of the last three, a sigmoid, bilinear upsampling by 2 (cropped to the full size). About
    4,300 parameters at ``width`` 12, 0.17 G multiply-adds at 481x321.
    """

    def __init__(self, in_channels: int = 3, width: int = 12) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=d, dilation=d, padding_mode="replicate")
            for i, d in enumerate((1, 2, 4, 8))
        )
        self.out = nn.Conv2d(3 * width, 1, 1)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for conv in list(self.convs) + [self.out]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(conv.bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        # channels-last: oneDNN's convolutions of 12 channels run 2.4x faster on 2 CPU threads
        # than torch's NCHW path (which is slower on 2 threads than on one); the same values to
        # float rounding (docs/performance.md)
        t = F.avg_pool2d(x, 2, ceil_mode=True).contiguous(memory_format=torch.channels_last)
        outs = []
        for conv in self.convs:
            t = F.relu(conv(t))
            outs.append(t)
        # the 1x1 convolution of the last three outputs, concatenated, as a sum of one per
        # output (no concatenated copy: half the time of the step)
        weight, width = self.out.weight, outs[1].shape[1]
        y = F.conv2d(outs[1], weight[:, :width], self.out.bias)
        for i, o in enumerate(outs[2:], 1):
            y = y + F.conv2d(o, weight[:, i * width:(i + 1) * width])
        # upsampled by exactly 2 and cropped (not resized to (h, w)): the sampling positions
        # do not depend on the size, so bands starting on even rows give the whole map
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)[:, :, :h, :w]
        return torch.sigmoid(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if torch.is_grad_enabled() or h * w * x.shape[0] <= BAND_PIXELS or h <= 4 * HEAD_HALO:
            return self._forward(x)
        # inference on a large image: bands of rows with HEAD_HALO rows of context (starting
        # on even rows, so the pooling cells are those of the whole image): the same map
        rows = max(2 * HEAD_HALO, (BAND_PIXELS // max(w * x.shape[0], 1)) // 2 * 2)
        out = torch.empty((x.shape[0], 1, h, w), dtype=x.dtype, device=x.device)
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            a, b = max(0, r0 - HEAD_HALO), min(h, r1 + HEAD_HALO)
            out[:, :, r0:r1] = self._forward(x[:, :, a:b])[:, :, r0 - a:r1 - a]
        return out


def contour_factor(b: torch.Tensor, strength: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The spatial term's factor ``exp(-strength * b)`` over its mean (inside ``mask``),
    per image: ``b`` ``(..., H, W)`` in [0, 1]. The mean is 1, so the compactness keeps its
    overall size and only moves from contours to flat parts."""
    f = torch.exp(-float(strength) * b.float())
    if mask is None:
        mean = f.mean(dim=(-2, -1), keepdim=True)
    else:
        m = mask.to(f.dtype)
        mean = (f * m).sum(dim=(-2, -1), keepdim=True) / m.sum(dim=(-2, -1), keepdim=True).clamp_min(1.0)
    return f / mean.clamp_min(1e-12)
