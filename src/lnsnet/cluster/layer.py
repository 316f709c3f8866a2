"""The paper's cluster layer (CL), Sec. 3.2, Eqs. (6)-(7): Student-t similarity and argmax, in torch.

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


def local_distances(z: torch.Tensor, seed_feats: torch.Tensor, grid: Grid, window: int = 3,
                    seed_pos: torch.Tensor | None = None, compactness: float = 0.0) -> torch.Tensor:
    """Squared distances to the seeds of neighbouring cells.

    Parameters
    ----------
    z : ``(C, H, W)`` pixel features.
    seed_feats : ``(K, C)`` seed features, K = grid.n_seeds.
    window : odd int, side of the cell neighbourhood.
    seed_pos, compactness : with ``compactness > 0``, the squared spatial distance to the
        seed positions ``(K, 2)``, in units of the grid step, times ``compactness`` is
        added (a SLIC-style shape prior; 0 gives the paper's feature distance).

    Returns
    -------
    d2 : ``(window**2, H, W)``; ``inf`` where the neighbour cell lies outside the grid.
    Candidate ``m`` is the cell offset ``(m // window - half, m % window - half)``.
    """
    half = window // 2
    pr, pc = grid.pixel_cells(z.device)
    s = _seed_grid(seed_feats, grid, half)
    spatial = compactness > 0 and seed_pos is not None
    if spatial:
        step2 = grid.cell_size[0] * grid.cell_size[1]
        p = _seed_grid(seed_pos.to(z.dtype), grid, half)  # (2, R+2h, C+2h)
        ys = torch.arange(grid.height, device=z.device, dtype=z.dtype)
        xs = torch.arange(grid.width, device=z.device, dtype=z.dtype)
    out = []
    for dr in range(-half, half + 1):
        rows = s.index_select(1, pr + dr + half)  # (C, H, C+2h)
        vr = ((pr + dr) >= 0) & ((pr + dr) < grid.rows)
        if spatial:
            prow = p.index_select(1, pr + dr + half)
        for dc in range(-half, half + 1):
            sd = rows.index_select(2, pc + dc + half)  # (C, H, W)
            diff = z - sd
            d2 = (diff * diff).sum(0)
            if spatial:
                ps = prow.index_select(2, pc + dc + half)  # (2, H, W)
                dy = ps[0] - ys[:, None]
                dx = ps[1] - xs[None, :]
                d2 = d2 + (compactness / step2) * (dy * dy + dx * dx)
            vc = ((pc + dc) >= 0) & ((pc + dc) < grid.cols)
            valid = vr[:, None] & vc[None, :]
            out.append(torch.where(valid, d2, torch.full_like(d2, float("inf"))))
    return torch.stack(out)


def local_labels(z: torch.Tensor, seed_feats: torch.Tensor, grid: Grid, window: int = 3,
                 seed_pos: torch.Tensor | None = None, compactness: float = 0.0) -> torch.Tensor:
    """Argmax of the Student-t similarity (= argmin distance) over neighbouring seeds.

    ``z`` ``(C, H, W)``, ``seed_feats`` ``(K, C)`` -> seed index per pixel ``(H, W)`` int64.
    The same result as ``local_distances(...).argmin(0)`` (ties go to the first candidate
    in row-major offset order), computed pixel-major with a running minimum, so only
    ``O(N C)`` memory is used and rows of the seed table are gathered contiguously.
    """
    c, h, w = z.shape
    half = window // 2
    rows, cols = grid.rows, grid.cols
    wp = cols + 2 * half
    zf = z.permute(1, 2, 0).reshape(-1, c)
    table = torch.full((rows + 2 * half, wp, c), float("inf"), dtype=z.dtype, device=z.device)
    table[half : half + rows, half : half + cols] = seed_feats.reshape(rows, cols, c).to(z.dtype)
    table = table.reshape(-1, c)
    spatial = compactness > 0 and seed_pos is not None
    if spatial:
        ptable = torch.zeros((rows + 2 * half, wp, 2), dtype=z.dtype, device=z.device)
        ptable[half : half + rows, half : half + cols] = seed_pos.reshape(rows, cols, 2).to(z.dtype)
        ptable = ptable.reshape(-1, 2)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=z.device, dtype=z.dtype), torch.arange(w, device=z.device, dtype=z.dtype), indexing="ij"
        )
        pix = torch.stack([ys.reshape(-1), xs.reshape(-1)], 1)
        weight = compactness / (grid.cell_size[0] * grid.cell_size[1])
    pr, pc = grid.pixel_cells(z.device)
    base = ((pr + half)[:, None] * wp + (pc + half)[None, :]).reshape(-1)
    best = torch.full((h * w,), float("inf"), dtype=z.dtype, device=z.device)
    arg = base.clone()
    for dr in range(-half, half + 1):
        for dc in range(-half, half + 1):
            idx = base + (dr * wp + dc)
            d = table.index_select(0, idx).sub_(zf).square_().sum(1)
            if spatial:
                d += weight * ptable.index_select(0, idx).sub_(pix).square_().sum(1)
            better = d < best
            best = torch.where(better, d, best)
            arg = torch.where(better, idx, arg)
    r = arg // wp - half
    col = arg % wp - half
    return (r * cols + col).reshape(h, w)


def dense_labels(
    z: torch.Tensor,
    seed_feats: torch.Tensor,
    seed_pos: torch.Tensor | None = None,
    compactness: float = 0.0,
    step2: float = 1.0,
    chunk: int = 1 << 16,
) -> torch.Tensor:
    """Argmin distance over all K seeds, computed in chunks of pixels: ``(H, W)`` int64.

    With ``compactness > 0`` the squared spatial distance to ``seed_pos`` ``(K, 2)``
    divided by ``step2`` (squared grid step) times ``compactness`` is added.
    """
    c, h, w = z.shape
    flat = z.reshape(c, -1).t()  # (N, C)
    s2 = (seed_feats * seed_feats).sum(1)  # (K,)
    spatial = compactness > 0 and seed_pos is not None
    if spatial:
        ys, xs = torch.meshgrid(
            torch.arange(h, device=z.device, dtype=z.dtype), torch.arange(w, device=z.device, dtype=z.dtype), indexing="ij"
        )
        pix = torch.stack([ys.reshape(-1), xs.reshape(-1)], 1)
        sp = seed_pos.to(z.dtype)
        sp2 = (sp * sp).sum(1)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=z.device)
    for i in range(0, flat.shape[0], chunk):
        f = flat[i : i + chunk]
        d2 = (f * f).sum(1, keepdim=True) - 2.0 * f @ seed_feats.t() + s2[None]
        if spatial:
            q = pix[i : i + chunk]
            d2 = d2 + (compactness / step2) * ((q * q).sum(1, keepdim=True) - 2.0 * q @ sp.t() + sp2[None])
        out[i : i + chunk] = d2.argmin(1)
    return out.reshape(h, w)


def assign(
    z: torch.Tensor,
    seed_feats: torch.Tensor,
    grid: Grid,
    mode: str = "local",
    seed_pos: torch.Tensor | None = None,
    compactness: float = 0.0,
    window: int = 3,
) -> torch.Tensor:
    """Hard assignment (Eq. 7) of every pixel to a seed, ``(H, W)`` int64 in ``[0, K)``.

    ``compactness`` (with ``seed_pos`` ``(K, 2)``) adds a spatial distance term in units of
    the grid step; 0 is the paper's pure feature distance. ``window``: side, in grid
    cells, of the neighbourhood searched by ``local`` mode.
    """
    if mode == "local":
        return local_labels(z, seed_feats, grid, window, seed_pos, compactness)
    if mode == "dense":
        step2 = grid.cell_size[0] * grid.cell_size[1]
        return dense_labels(z, seed_feats, seed_pos, compactness, step2)
    raise ValueError(f"unknown clustering mode {mode!r}; allowed: 'local', 'dense'")
