import numpy as np, lnsnet
def rows_on(lab): return (lab[:, 43:46] != lab[:, 44:47]).any(1).mean()
r={k:[] for k in ("compact","fast","compact:blur=0")}
for seed in range(20):
    rng = np.random.default_rng(seed)
    img = np.zeros((60, 90, 3)); img[:, 45:] = 0.6
    img = np.clip(img + rng.normal(0, 0.08, img.shape), 0, 1)
    for k in r: r[k].append(rows_on(lnsnet.segment(img, 24, clustering=k)))
for k,v in r.items(): print(k, round(np.mean(v),3), round(min(v),3))
rng = np.random.default_rng(0)
msk = np.zeros((20, 21)); msk[2:-2, 2:-2] = 1
img = np.zeros((20, 21)); img[:10, :10] = 0.33; img[10:, :10] = 0.67; img[10:, 10:] = 1.00
img += 0.0033 * rng.normal(size=img.shape); np.clip(img, 0, 1, out=img)
for cl in ("compact","fast"):
    seg = lnsnet.segment(img, sigma=0, n_segments=4, compactness=1, channel_axis=None, convert2lab=False, mask=msk, clustering=cl)
    want=np.zeros_like(seg); want[2:10,2:10]=1; want[2:10,10:-2]=2; want[10:-2,2:10]=3; want[10:-2,10:-2]=4
    print(cl, "gray mask wrong px", int((seg!=want).sum()), len(np.unique(seg)))
