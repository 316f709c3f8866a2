"""Seed estimation layer (SEL), Sec. 3.2, Eqs. (3)-(5).

Pools the features to the seed grid and predicts, per cell, a shift of its seed inside the
cell. Unlike the official release (which floors the shifted positions to integer indices,
so no gradient ever reaches this layer), the seed features are sampled bilinearly at the
continuous seed positions, so the clustering loss trains the layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..grid import Grid

__all__ = ["SeedEstimation", "sample_features"]


class SeedEstimation(nn.Module):
    """``(B, C, H, W)`` features -> seed positions ``(B, K, 2)`` (row, col) in pixels."""

    def __init__(self, channels: int = 20, hidden: int = 20) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, hidden, 3)
        self.proj = nn.Conv2d(hidden, 2, 1)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for m in (self.conv, self.proj):
            nn.init.xavier_normal_(m.weight, generator=generator)
            nn.init.zeros_(m.bias)

    def offsets(self, z: torch.Tensor, grid: Grid) -> torch.Tensor:
        """Shift ratios in ``(-0.5, 0.5)`` of a cell, ``(B, K, 2)`` (Eqs. 3-4)."""
        pooled = F.adaptive_avg_pool2d(z, (grid.rows, grid.cols))
        h = F.relu(self.conv(F.pad(pooled, (1, 1, 1, 1), mode="replicate")))
        f = torch.sigmoid(self.proj(h)) - 0.5  # (B, 2, R, C)
        return f.flatten(2).transpose(1, 2)

    def forward(self, z: torch.Tensor, grid: Grid) -> torch.Tensor:
        """Seed positions: cell centre + shift x cell size, inside the image (Eq. 5)."""
        cell = torch.tensor(grid.cell_size, device=z.device, dtype=z.dtype)
        pos = grid.centres(z.device, z.dtype)[None] + self.offsets(z, grid) * cell
        hi = torch.tensor([grid.height - 1, grid.width - 1], device=z.device, dtype=z.dtype)
        return torch.minimum(pos.clamp(min=0.0), hi)


def sample_features(z: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``z`` ``(B, C, H, W)`` at ``positions`` ``(B, K, 2)`` -> ``(B, K, C)``.

    Differentiable in both ``z`` and ``positions``.
    """
    _, _, h, w = z.shape
    r = positions[..., 0] / max(h - 1, 1) * 2 - 1
    c = positions[..., 1] / max(w - 1, 1) * 2 - 1
    g = torch.stack([c, r], dim=-1)[:, :, None, :]  # (B, K, 1, 2) as (x, y)
    s = F.grid_sample(z, g, mode="bilinear", padding_mode="border", align_corners=True)
    return s[..., 0].transpose(1, 2)
