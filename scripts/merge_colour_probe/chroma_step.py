import numpy as np, lnsnet
from lnsnet.eval.metrics import score
rng = np.random.default_rng(0)
h, w = 96, 128
yy, xx = np.mgrid[:h, :w]
inside = xx > w / 2 + 12 * np.sin(yy / 9.0)
rgb = np.repeat(np.where(inside[:, :, None], 0.65, 0.35), 3, axis=2).astype(np.float32)
noise = rng.integers(-2, 3, (h, w)).astype(np.float32) / 255
rgb[..., 0] += noise; rgb[..., 2] -= noise
for cl in ("compact:blur=0","compact:contour=0","compact","fast"):
    s=score(lnsnet.segment(rgb, 24, clustering=cl), [inside.astype(int)]); print(cl, round(s["asa_best"],4), round(s["co"],3))
