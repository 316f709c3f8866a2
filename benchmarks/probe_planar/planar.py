import numba as nb, numpy as np
_fast = dict(cache=False, nogil=True, fastmath={"contract", "nsz"})

@nb.njit(parallel=True, **_fast)
def assign_planar(z, table, pr, pc, cols, ptable, wmap, spatial, y0, win, out, best_out, dist_out, keep_all, sy, sx):
    # z (C, h, W) planar; table (C, R, Cc) ; ptable (2, R, Cc)
    c_n, h, w = z.shape
    n_cand = win * win
    half = win // 2
    for y in nb.prange(h):
        r = pr[y]
        acc = np.empty((n_cand, w), dtype=np.float32)
        fy = np.float32(y0 + y)
        x0 = 0
        while x0 < w:
            cur = pc[x0]
            x1 = x0 + 1
            while x1 < w and pc[x1] == cur:
                x1 += 1
            for m in range(n_cand):
                tr = r + m // win
                tc = cur + m % win
                a = acc[m, x0:x1]
                n = x1 - x0
                s = table[0, tr, tc]
                zr = z[0, y, x0:x1]
                for i in range(n):
                    t = s - zr[i]
                    a[i] = t * t
                for c in range(1, c_n):
                    s = table[c, tr, tc]
                    zr = z[c, y, x0:x1]
                    for i in range(n):
                        t = s - zr[i]
                        a[i] += t * t
                if spatial:
                    dy = (ptable[0, tr, tc] - fy) * sy
                    cyy = dy * dy
                    px = ptable[1, tr, tc] * sx
                    wr = wmap[y, x0:x1]
                    for i in range(n):
                        t = px - np.float32(x0 + i) * sx
                        a[i] += wr[i] * (cyy + t * t)
            base = r * cols + cur
            for x in range(x0, x1):
                b = acc[0, x]
                arg = 0
                for m in range(1, n_cand):
                    v = acc[m, x]
                    if v < b:
                        b = v
                        arg = m
                out[y, x] = base + (arg // win - half) * cols + arg % win - half
                best_out[y, x] = b
            if keep_all:
                for x in range(x0, x1):
                    for m in range(n_cand):
                        dist_out[y, x, m] = acc[m, x]
            x0 = x1
