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

__all__ = ["FeatureEmbedder"]


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
        h = torch.cat([x] + [_conv3x3(x, b) for b in self.branches], dim=1)
        h = F.relu(_norm(h, self.norm0))
        h = F.relu(_norm(_conv3x3(h, self.conv1), self.norm1))
        h = torch.cat([h, x], dim=1)
        return F.relu(_norm(_conv3x3(h, self.conv2), self.norm2))
