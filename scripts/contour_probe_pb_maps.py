"""Pb-like oriented half-disc chi2 gradients (brightness, colour a/b, texture), no labels.
Saves per image float16 array (4 channels, 3 scales, 8 orientations, H, W)."""
import sys, numpy as np, torch
from skimage.color import rgb2lab
from scipy.ndimage import convolve
from lnsnet.eval.datasets import BSDS500
torch.set_num_threads(1)
NB = 25; NT = 32; RADII = (4, 8, 16); NO = 8

def half_disc_masks(r):
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    disc = (x * x + y * y) <= r * r
    out = []
    for o in range(NO):
        th = np.pi * o / NO
        side = x * np.sin(th) - y * np.cos(th)  # signed distance to line through centre at angle th
        m1 = disc & (side > 0); m2 = disc & (side < 0)
        out.append(m1 / m1.sum() - m2 / m2.sum())
    full = disc / disc.sum() * 0.5  # (m1+m2)/2 normalised approx
    return np.stack(out), disc.astype(np.float64) / disc.sum()

def fftconv(F, k, shape, r):
    # F: rfft2 of padded input (C, Hp, Wp); k (2r+1)^2 kernel -> centred correlation result (C, H, W)
    Hp, Wp = shape
    kp = torch.zeros(Hp, Wp, dtype=torch.float32)
    kk = torch.from_numpy(k[::-1, ::-1].astype(np.float32).copy())
    kp[:k.shape[0], :k.shape[1]] = kk
    K = torch.fft.rfft2(kp)
    out = torch.fft.irfft2(F * K, s=(Hp, Wp))
    return out

def chi2_stack(labels, nb, r):
    H, W = labels.shape
    oh = torch.nn.functional.one_hot(torch.from_numpy(labels.astype(np.int64)), nb).permute(2, 0, 1).float()
    ohp = torch.nn.functional.pad(oh[None], (r, r, r, r), mode="reflect")[0]
    Hp, Wp = ohp.shape[1:]
    F = torch.fft.rfft2(ohp)
    diffs, disc = half_disc_masks(r)
    S = fftconv(F, disc, (Hp, Wp), r)[:, 2 * r:2 * r + H, 2 * r:2 * r + W] if False else None
    S = fftconv(F, disc, (Hp, Wp), r)
    res = []
    for o in range(NO):
        D = fftconv(F, diffs[o], (Hp, Wp), r)
        # full conv output index (i + 2r) corresponds to centre at padded i + r -> original i
        d = D[:, 2 * r:2 * r + H, 2 * r:2 * r + W]; s = S[:, 2 * r:2 * r + H, 2 * r:2 * r + W]
        # hist halves: g = s + d/2, h = s - d/2 (halves each normalised; s = mean of both) -> chi2 = 0.5 sum (g-h)^2/(g+h) = 0.25 sum d^2 / s
        c = 0.25 * (d * d / s.clamp_min(1e-9)).sum(0)
        res.append(c.float().numpy())
    return np.stack(res)

def filter_bank(L):
    from scipy.ndimage import gaussian_filter
    fs = []
    for sig in (1.0, 2.0):
        gy = gaussian_filter(L, sig, order=(1, 0)); gx = gaussian_filter(L, sig, order=(0, 1))
        yy = gaussian_filter(L, sig, order=(2, 0)); xx = gaussian_filter(L, sig, order=(0, 2)); xy = gaussian_filter(L, sig, order=(1, 1))
        for o in range(6):
            th = np.pi * o / 6; c, s = np.cos(th), np.sin(th)
            fs.append(c * gx + s * gy)
            fs.append(c * c * xx + 2 * c * s * xy + s * s * yy)
        fs.append(gaussian_filter(L, sig) - gaussian_filter(L, 2 * sig))
    return np.stack(fs, -1).reshape(-1, len(fs))

def kmeans(X, k, it=10, seed=0):
    rng = np.random.default_rng(seed)
    Xt = torch.from_numpy(X.astype(np.float32))
    C = Xt[torch.from_numpy(rng.choice(len(X), k, replace=False))]
    for _ in range(it):
        d = torch.cdist(Xt, C); a = d.argmin(1)
        for j in range(k):
            m = a == j
            if m.any(): C[j] = Xt[m].mean(0)
    return a.numpy()

def pb(image):
    lab = rgb2lab(image)
    H, W = lab.shape[:2]
    chans = []
    for c, (lo, hi) in enumerate(((0, 100), (-60, 80), (-60, 80))):
        q = np.clip(((lab[..., c] - lo) / (hi - lo) * NB).astype(int), 0, NB - 1)
        chans.append((q, NB))
    F = filter_bank(lab[..., 0] / 100.0)
    F = (F - F.mean(0)) / (F.std(0) + 1e-6)
    t = kmeans(F, NT).reshape(H, W)
    chans.append((t, NT))
    out = np.zeros((4, len(RADII), NO, H, W), np.float16)
    for ci, (q, nb) in enumerate(chans):
        for si, r in enumerate(RADII):
            rr = r * (2 if ci > 0 else 1) if ci in (1, 2) else r
            out[ci, si] = chi2_stack(q, nb, rr)
    return out

if __name__ == "__main__":
    split, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if split in ("dsb", "sbd"):
        sys.path.insert(0, __import__("os").path.dirname(__file__)); from contour_probe_pb_dsets import DS
        class A: data = split; images = 50
        ds = DS(A)
    else:
        ds = BSDS500(split=split)
    import time
    for i in range(start, stop):
        t = time.time()
        s = ds[i]
        img = s.image if s.image.ndim == 3 else np.repeat(s.image[..., None], 3, -1)
        np.save(f"/tmp/probe/pb/{split}_{i:03d}.npy", pb(img))
        print(i, time.time() - t, flush=True)
