"""Cluster layer (CL), Sec. 3.2, Eqs. (6)-(7): Student-t similarity and argmax.

Two modes share one interface:

``local`` (default)
    each pixel is compared with the seeds of the ``window x window`` grid cells around its
    own cell (3x3 at inference): O(N) time and memory.
``dense``
    each pixel is compared with all K seeds, as in the paper: O(NK) time, computed in
    chunks so memory stays bounded.
"""

from __future__ import annotations

import torch

from ..grid import Grid

__all__ = ["student_t", "soft_assignment", "local_distances", "dense_labels", "local_labels", "assign"]


def student_t(d2: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Student-t kernel ``(1 + d2 / alpha) ** (-(alpha + 1) / 2)`` (DEC, Xie et al. 2016).

    With ``alpha = 1`` (the official release and DEC) the exponent is -1. The paper's
    Eq. (6) prints the exponent -1/2; the argmax (Eq. 7) is the same for any alpha.
    """
    if alpha == 1.0:
        return torch.reciprocal(1.0 + d2)  # same value, much faster backward than pow
    return (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)


def soft_assignment(d2: torch.Tensor, alpha: float = 1.0, dim: int = 0) -> torch.Tensor:
    """Normalised Student-t similarities along ``dim`` (Eq. 6); ``inf`` distances get 0."""
    q = student_t(d2, alpha)
    return q / q.sum(dim=dim, keepdim=True)


def _seed_grid(seed_feats: torch.Tensor, grid: Grid, half: int) -> torch.Tensor:
    """``(K, C)`` -> ``(C, R + 2*half, C + 2*half)`` with replicated borders."""
    s = seed_feats.t().reshape(-1, grid.rows, grid.cols)
    return torch.nn.functional.pad(s[None], (half, half, half, half), mode="replicate")[0]


def local_distances(z: torch.Tensor, seed_feats: torch.Tensor, grid: Grid, window: int = 3):
    """Squared feature distances to the seeds of neighbouring cells.

    Parameters
    ----------
    z : ``(C, H, W)`` pixel features.
    seed_feats : ``(K, C)`` seed features, K = grid.n_seeds.
    window : odd int, side of the cell neighbourhood.

    Returns
    -------
    d2 : ``(window**2, H, W)``; ``inf`` where the neighbour cell lies outside the grid.
    Candidate ``m`` is the cell offset ``(m // window - half, m % window - half)``.
    """
    half = window // 2
    pr, pc = grid.pixel_cells(z.device)
    s = _seed_grid(seed_feats, grid, half)
    out = []
    for dr in range(-half, half + 1):
        rows = s.index_select(1, pr + dr + half)  # (C, H, C+2h)
        vr = ((pr + dr) >= 0) & ((pr + dr) < grid.rows)
        for dc in range(-half, half + 1):
            sd = rows.index_select(2, pc + dc + half)  # (C, H, W)
            diff = z - sd
            d2 = (diff * diff).sum(0)
            vc = ((pc + dc) >= 0) & ((pc + dc) < grid.cols)
            valid = vr[:, None] & vc[None, :]
            out.append(torch.where(valid, d2, torch.full_like(d2, float("inf"))))
    return torch.stack(out)


def local_labels(z: torch.Tensor, seed_feats: torch.Tensor, grid: Grid, window: int = 3) -> torch.Tensor:
    """Argmax of the Student-t similarity (= argmin distance) over neighbouring seeds.

    ``z`` ``(C, H, W)``, ``seed_feats`` ``(K, C)`` -> seed index per pixel ``(H, W)`` int64.
    """
    half = window // 2
    d2 = local_distances(z, seed_feats, grid, window)
    m = d2.argmin(0)
    pr, pc = grid.pixel_cells(z.device)
    r = pr[:, None] + m // window - half
    c = pc[None, :] + m % window - half
    return r * grid.cols + c


def dense_labels(z: torch.Tensor, seed_feats: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """Argmin distance over all K seeds, computed in chunks of pixels: ``(H, W)`` int64."""
    c, h, w = z.shape
    flat = z.reshape(c, -1).t()  # (N, C)
    s2 = seed_feats.pow(2).sum(1)  # (K,)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=z.device)
    for i in range(0, flat.shape[0], chunk):
        f = flat[i : i + chunk]
        d2 = f.pow(2).sum(1, keepdim=True) - 2.0 * f @ seed_feats.t() + s2[None]
        out[i : i + chunk] = d2.argmin(1)
    return out.reshape(h, w)


def assign(z: torch.Tensor, seed_feats: torch.Tensor, grid: Grid, mode: str = "local") -> torch.Tensor:
    """Hard assignment (Eq. 7) of every pixel to a seed, ``(H, W)`` int64 in ``[0, K)``."""
    if mode == "local":
        return local_labels(z, seed_feats, grid, 3)
    if mode == "dense":
        return dense_labels(z, seed_feats)
    raise ValueError(f"unknown clustering mode {mode!r}; allowed: 'local', 'dense'")
