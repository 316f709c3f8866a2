"""The seed grid: square (SLIC-style) cells for K seeds on an HxW image.

Coordinates are in pixels with pixel centres at integer positions: row ``r`` spans
``[r - 0.5, r + 0.5)``. Cell ``(i, j)`` covers rows ``[i*H/R, (i+1)*H/R)`` and columns
``[j*W/C, (j+1)*W/C)``; seed ``k = i*C + j`` starts at the cell centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Grid", "make_grid", "fit_to_mask"]

# weight of the cell aspect-ratio penalty against the relative error in the seed count
ASPECT_WEIGHT = 0.2


@dataclass(frozen=True)
class Grid:
    """A ``rows x cols`` grid of cells over an ``height x width`` image."""

    height: int
    width: int
    rows: int
    cols: int

    @property
    def n_seeds(self) -> int:
        return self.rows * self.cols

    @property
    def cell_size(self) -> tuple[float, float]:
        """(cell height, cell width) in pixels."""
        return self.height / self.rows, self.width / self.cols

    def centres(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """Cell centres, ``(K, 2)`` as (row, col) pixel coordinates."""
        ch, cw = self.cell_size
        r = (torch.arange(self.rows, device=device, dtype=dtype) + 0.5) * ch - 0.5
        c = (torch.arange(self.cols, device=device, dtype=dtype) + 0.5) * cw - 0.5
        rr, cc = torch.meshgrid(r, c, indexing="ij")
        return torch.stack([rr.reshape(-1), cc.reshape(-1)], dim=1)

    def pixel_cells(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell row of every image row ``(H,)`` and cell column of every image column ``(W,)``."""
        r = torch.arange(self.height, device=device) * self.rows // self.height
        c = torch.arange(self.width, device=device) * self.cols // self.width
        return r, c

    def cells_in(self, mask: np.ndarray) -> np.ndarray:
        """Which cells hold at least one pixel of ``mask`` (``(H, W)`` bool): ``(K,)`` bool."""
        return np.bincount(self._cell_ids(mask)[2], minlength=self.n_seeds) > 0

    def mask_centres(self, mask: np.ndarray) -> np.ndarray:
        """The centroid (row, col) of each cell's pixels in ``mask``, the cell centre where
        it holds none: ``(K, 2)`` float32."""
        ys, xs, ids = self._cell_ids(mask)
        n = np.bincount(ids, minlength=self.n_seeds)
        out = self.centres().numpy().astype(np.float64)
        has = n > 0
        out[has, 0] = np.bincount(ids, ys, self.n_seeds)[has] / n[has]
        out[has, 1] = np.bincount(ids, xs, self.n_seeds)[has] / n[has]
        return out.astype(np.float32)

    def _cell_ids(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows, columns and cell (seed) indices of the pixels of ``mask``."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.height, self.width):
            raise ValueError(f"mask must be {self.height}x{self.width}, got shape {mask.shape}")
        ys, xs = np.nonzero(mask)
        return ys, xs, (ys * self.rows // self.height) * self.cols + xs * self.cols // self.width

    def candidates(self, window: int = 3, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeds of the ``window x window`` cells around each pixel's own cell.

        Returns
        -------
        index : LongTensor ``(window**2, H, W)``
            Seed index of each candidate (clamped into range where invalid).
        valid : BoolTensor ``(window**2, H, W)``
            False where the candidate cell lies outside the grid.
        """
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be a positive odd number, got {window}")
        half = window // 2
        pr, pc = self.pixel_cells(device)
        idx, val = [], []
        for dr in range(-half, half + 1):
            for dc in range(-half, half + 1):
                r = pr + dr
                c = pc + dc
                vr = (r >= 0) & (r < self.rows)
                vc = (c >= 0) & (c < self.cols)
                k = r.clamp(0, self.rows - 1)[:, None] * self.cols + c.clamp(0, self.cols - 1)[None, :]
                idx.append(k)
                val.append(vr[:, None] & vc[None, :])
        return torch.stack(idx), torch.stack(val)

    def pixel_candidates(self, pixels: torch.Tensor, window: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate seeds of the given pixels (flat indices ``(N,)``, row-major).

        Returns ``index`` ``(N, window**2)`` (clamped where invalid) and ``valid``
        ``(N, window**2)``; candidate ``m`` is the cell offset ``(m // window - half, m % window - half)``.
        """
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be a positive odd number, got {window}")
        half = window // 2
        pr, pc = self.pixel_cells(pixels.device)
        r = pr[pixels // self.width][:, None]
        c = pc[pixels % self.width][:, None]
        d = torch.arange(-half, half + 1, device=pixels.device)
        rr = (r + d.repeat_interleave(window)[None])
        cc = (c + d.repeat(window)[None])
        valid = (rr >= 0) & (rr < self.rows) & (cc >= 0) & (cc < self.cols)
        index = rr.clamp(0, self.rows - 1) * self.cols + cc.clamp(0, self.cols - 1)
        return index, valid


def cell_bounds(length: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and past-the-last index of each of ``n`` cells along an axis of ``length``
    (the grids' rule, 2-D and 3-D: index ``i`` is in cell ``(i * n) // length``)."""
    starts = np.searchsorted((np.arange(length) * n) // length, np.arange(n))
    return starts, np.append(starts[1:], length)


def make_grid(height: int, width: int, n_segments: int, spacing=(1.0, 1.0)) -> Grid:
    """Choose ``rows x cols`` so that cells are close to square and ``rows*cols`` close to K.

    The count error (relative, in log scale) and the cell aspect ratio (log scale) are
    traded off; for K >= 50 on any image the count is within a few percent of K. K is
    capped at the number of pixels. ``spacing`` ``(row, column)``: the physical size of a
    pixel; cells are then close to square in physical units.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if int(n_segments) != n_segments or n_segments < 1:
        raise ValueError(f"n_segments must be a positive integer, got {n_segments!r}")
    k = min(int(n_segments), height * width)
    sy, sx = (float(v) for v in spacing)
    ph, pw = height * sy, width * sx  # the physical size
    step = math.sqrt(ph * pw / k)
    pairs = set()
    # rows near H/step with the cols that fit K, and cols near W/step with the rows that fit
    for transpose, (a, b, pa) in ((False, (height, width, ph)), (True, (width, height, pw))):
        a0 = pa / step
        for na in range(max(1, min(a, math.floor(a0)) - 1), min(a, math.ceil(a0) + 1) + 1):
            for nb in {math.floor(k / na), math.ceil(k / na)}:
                nb = min(max(1, nb), b)
                pairs.add((nb, na) if transpose else (na, nb))
    best = None
    for rows, cols in sorted(pairs):
        if rows > height or cols > width:
            continue
        count_err = abs(math.log(rows * cols / k))
        aspect = abs(math.log((ph / rows) / (pw / cols)))
        cost = count_err + ASPECT_WEIGHT * aspect
        if best is None or cost < best[0] - 1e-12:
            best = (cost, rows, cols)
    return Grid(height, width, best[1], best[2])


def fit_to_mask(k: int, total: int, area: int, make, count):
    """The grid whose cells holding masked points number closest to ``k``: ``make(target)``
    builds the grid for ``target`` cells over all ``total`` points, ``count(grid)`` counts
    its cells that hold some of the mask's ``area`` points; the target starts at ``k *
    total / area`` and is rescaled by ``k / count`` (at most 8 grids). The 2-D and 3-D
    paths' rule for a mask (:func:`lnsnet.inference._mask_grid`, :mod:`lnsnet.volume`)."""
    target = max(1, min(total, round(k * total / area)))
    best = None
    for _ in range(8):
        grid = make(target)
        n = count(grid)
        if best is None or abs(n - k) < abs(best[0] - k):
            best = (n, grid)
        if n == k:
            break
        nxt = max(1, min(total, round(target * k / max(n, 1))))
        if nxt == target:
            break
        target = nxt
    return best[1]
