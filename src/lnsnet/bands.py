"""The network on a large image, in bands of full-width rows, with bounded memory.

Passes 1-3 gather the InstanceNorm statistics of the whole image layer by layer, pass 4
samples the seed features at the seed positions, then the clustering reads the pixel
features band by band (:func:`lnsnet.cluster.cluster_local`). Each band is computed with
``halo`` rows of context, so the features equal those of the image in one piece up to
float rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from .grid import Grid
from .model import LNSNet
from .model.embedder import moments, stats_from_moments
from .model.seeds import sample_features
from .runtime import memory_bytes

__all__ = ["BandedFeatures", "band_rows", "TILE_PIXELS", "BAND_PIXELS"]

# above this many pixels the network runs in bands of rows (bounded memory) ...
TILE_PIXELS = 2_000_000
# ... of about this many pixels each (at least 64 rows): the convolutions' im2col
# workspace (~1.3 kB per pixel for the 35-channel layer) is what bounds the band
BAND_PIXELS = 256_000
# the pixel features Z of the whole image are kept between clustering passes when they
# take at most this many bytes as float32, else as float16 when that takes at most
# Z_CACHE_HALF_BYTES and a quarter of the memory (else each pass runs the network again)
Z_CACHE_BYTES = 512 << 20
Z_CACHE_HALF_BYTES = 4 << 30


def band_rows(h: int, w: int, tile_pixels: int) -> list[tuple[int, int]]:
    """The bands ``[(r0, r1), ...]`` of an ``h x w`` image, top to bottom."""
    rows = max(8, min(tile_pixels // max(w, 1), max(64, BAND_PIXELS // max(w, 1))))
    return [(r0, min(h, r0 + rows)) for r0 in range(0, h, rows)]


class BandedFeatures:
    """The pixel features of one large image ``x`` ``(1, 5, H, W)``, band by band.

    ``passes``: how many times the clustering will read every band (from
    :func:`lnsnet.cluster.local.feature_passes`); with more than one, Z is kept after its
    first computation when it fits (float32, or float16: about 1e-3 relative rounding of
    the features), else recomputed on every pass. ``progress`` shows a bar of bands.

    Attributes: ``bands``, ``seed_features`` ``(K, C)`` numpy at ``seed_pos``; call
    :meth:`zband` for the features ``(C, r1 - r0, W)`` float32 of a band, :meth:`close`
    when done.
    """

    def __init__(self, net: LNSNet, x: torch.Tensor, grid: Grid, device: torch.device, tile_pixels: int,
                 seed_pos: torch.Tensor, passes: int = 1, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        self.fem, self.x, self.device = net.embedder, x, device
        _, _, h, w = x.shape
        self.h = h
        self.bands = band_rows(h, w, tile_pixels)
        z_bytes = self.fem.out_channels * h * w * 4
        if passes == 1:  # Z is read once: nothing to keep
            self.keep = None
        elif z_bytes <= Z_CACHE_BYTES:
            self.keep = np.float32
        elif z_bytes // 2 <= min(Z_CACHE_HALF_BYTES, memory_bytes() // 4):
            self.keep = np.float16
        else:
            self.keep = None
        self.cache: dict = {}
        self.bar = tqdm(total=(4 + (1 if self.keep else passes)) * len(self.bands), unit="band",
                        desc=f"lnsnet {h}x{w} in bands", disable=not progress, dynamic_ncols=True, leave=False)
        self.stats = [None, None, None]
        for stage in range(3):
            s1 = s2 = 0.0
            for r0, r1 in self.bands:
                m1, m2, _ = moments(self._band(r0, r1, stage))
                s1, s2 = s1 + m1, s2 + m2
            self.stats[stage] = stats_from_moments(s1, s2, h * w)
        self.seed_features = self._sample(seed_pos)

    def _band(self, r0: int, r1: int, stage: int) -> torch.Tensor:
        """The output of layer ``stage`` (3: Z) on rows ``r0 .. r1``, computed with its halo."""
        self.bar.update(1)
        h, halo = self.h, self.fem.halo
        a, b = max(0, r0 - halo), min(h, r1 + halo)
        out = self.fem.forward_band(self.x[:, :, a:b].to(self.device), a == 0, b == h, self.stats, stage)
        start = a + (self.fem.halo_of(stage) if a > 0 else 0)
        return out[:, :, r0 - start : r1 - start]

    def _sample(self, pos: torch.Tensor) -> np.ndarray:
        """Bilinear samples of Z at ``pos`` ``(K, 2)`` (pixels), from the rows they need only."""
        lo = pos[:, 0].floor().clamp(0, self.h - 1).long()
        hi = (lo + 1).clamp(max=self.h - 1)
        need = sorted(set(lo.tolist()) | set(hi.tolist()))
        rows = {}
        for r0, r1 in self.bands:
            if any(r0 <= r < r1 for r in need):
                z = self._band(r0, r1, 3)[0].cpu()
                for r in need:
                    if r0 <= r < r1:
                        rows[r] = z[:, r - r0].clone()  # a view would keep the whole band alive
        table = torch.stack([rows[r] for r in need], 1)[None]  # (1, C, rows needed, W)
        where = {r: i for i, r in enumerate(need)}
        # rows lo and lo + 1 are neighbours in the table too: the same bilinear weights
        row = torch.tensor([where[r] for r in lo.tolist()], dtype=pos.dtype) + (pos[:, 0] - lo).clamp(0, 1)
        at = torch.stack([row, pos[:, 1]], 1)[None]
        return sample_features(table, at)[0].numpy()

    def zband(self, r0: int, r1: int) -> np.ndarray:
        """The features ``(C, r1 - r0, W)`` float32 of band ``(r0, r1)``."""
        z = self.cache.get((r0, r1))
        if z is not None:
            return z if z.dtype == np.float32 else z.astype(np.float32)
        z = self._band(r0, r1, 3)[0].cpu().numpy()
        if self.keep is not None:
            if self.keep is np.float16:  # features are InstanceNorm outputs, far below 65504; never inf
                np.clip(z, -65504.0, 65504.0, out=z)
            self.cache[(r0, r1)] = z = z.astype(self.keep, copy=False)
        return z.astype(np.float32, copy=False)  # float16: the same rounding on every pass

    def close(self) -> None:
        self.cache.clear()
        self.bar.close()
