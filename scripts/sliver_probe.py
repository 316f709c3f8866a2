"""Probe (val only): reassign 1-pixel slivers whose colour is a mix of the two labels
across them (the blur's ramp between two regions taking a third one's colour).
Hooked into cluster_local by LNSNET_PROBE_SLIVER=1."""
import numba as nb
import numpy as np


@nb.njit(cache=True)
def _means(image, lab, k):
    c, h, w = image.shape
    s = np.zeros((k, c)); n = np.zeros(k)
    for y in range(h):
        for x in range(w):
            l = lab[y, x]
            if l >= 0:
                n[l] += 1
                for ch in range(c):
                    s[l, ch] += image[ch, y, x]
    for l in range(k):
        if n[l] > 0:
            for ch in range(c):
                s[l, ch] /= n[l]
    return s


@nb.njit(cache=True)
def _slivers(image, lab, mu, out, ratio):
    c, h, w = image.shape
    moved = 0
    for y in range(h):
        for x in range(w):
            L = lab[y, x]
            if L < 0:
                continue
            best = 0.0
            for ch in range(c):
                d = image[ch, y, x] - mu[L, ch]
                best += d * d
            choice = L
            for o in range(2):
                dy, dx = (1, 0) if o == 0 else (0, 1)
                if y - dy < 0 or y + dy >= h or x - dx < 0 or x + dx >= w:
                    continue
                a = lab[y - dy, x - dx]; b = lab[y + dy, x + dx]
                if a == L or b == L or a < 0 or b < 0 or (ratio > 1 and a == b):
                    continue
                vv = 0.0; zv = 0.0
                for ch in range(c):
                    v = mu[b, ch] - mu[a, ch]
                    vv += v * v
                    zv += (image[ch, y, x] - mu[a, ch]) * v
                t = 0.0 if vv <= 0 else min(max(zv / vv, 0.0), 1.0)
                r = 0.0
                for ch in range(c):
                    d = image[ch, y, x] - (mu[a, ch] + t * (mu[b, ch] - mu[a, ch]))
                    r += d * d
                if r * ratio < best:
                    best = r * ratio
                    choice = a if t <= 0.5 else b
            out[y, x] = choice
            if choice != L:
                moved += 1
    return moved


def reassign(image, raw, k, ratio=1.0):
    image = np.ascontiguousarray(image, np.float32)
    mu = _means(image, raw, k)
    out = raw.copy()
    _slivers(image, raw, mu, out, ratio)
    return out


RAW = []  # the unblurred image's clustering colour (3, H, W), set by segment() under the hook


@nb.njit(cache=True)
def _raw_slivers(raw_img, lab, mu, out, ratio):
    c, h, w = raw_img.shape
    for y in range(h):
        for x in range(w):
            L = lab[y, x]
            if L < 0:
                continue
            own = 0.0
            for ch in range(c):
                d = raw_img[ch, y, x] - mu[L, ch]
                own += d * d
            best = own
            choice = L
            for o in range(2):
                dy, dx = (1, 0) if o == 0 else (0, 1)
                if y - dy < 0 or y + dy >= h or x - dx < 0 or x + dx >= w:
                    continue
                a = lab[y - dy, x - dx]; b = lab[y + dy, x + dx]
                if a == L or b == L or a < 0 or b < 0 or a == b:
                    continue
                for m in (a, b):
                    r = 0.0
                    for ch in range(c):
                        d = raw_img[ch, y, x] - mu[m, ch]
                        r += d * d
                    if r * ratio < own and r < best:
                        best = r
                        choice = m
            out[y, x] = choice


def reassign_raw(raw_img, raw, k, ratio):
    raw_img = np.ascontiguousarray(raw_img, np.float32)
    mu = _means(raw_img, raw, k)
    out = raw.copy()
    _raw_slivers(raw_img, raw, mu, out, ratio)
    return out
