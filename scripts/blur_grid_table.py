"""The val grid of segment(sigma=s) at compactness c (rows from contour_probe_sigma.py at 51725c7, logs g12/g14/g15.log) as a markdown table with dBR against the sigma-0 curve."""
import re, numpy as np, collections
rows = collections.defaultdict(dict)
for f in ("g12.log", "g14.log", "g15.log"):
    for l in open(f):
        p = l.split(" | ")[0].split()
        data, model, sig, c = p[0], p[1], float(p[2]), float(p[3])
        if model != "bsds500": continue
        ks = re.findall(r"K=(\d+) k=(\d+) ASA=([\d.]+) BR=([\d.]+) CO=([\d.]+)", l)
        rows[data][(sig, c)] = {int(K): (int(k), float(a), float(b), float(o)) for K, k, a, b, o in ks}
names = {"bsds": "BSDS500 val (50)", "sbd": "SBD val (50)", "dsb": "DSB2018 (65)"}
print("| set | sigma | compactness | BR K=100 / 400 / 1000 | ASA K=100 / 400 / 1000 | CO K=100 / 400 / 1000 | dBR at the same CO |")
print("|---|---:|---:|---|---|---|---|")
for data in ("bsds", "sbd", "dsb"):
    r = rows[data]
    base = sorted([(c, d) for (s, c), d in r.items() if s == 0])
    for (s, c) in sorted(r):
        d = r[(s, c)]
        dd = []
        for K in (100, 400, 1000):
            pts = sorted((b[K][3], b[K][2]) for _, b in base)
            cos, brs = map(np.array, zip(*pts))
            co = d[K][3]
            dd.append("-" if s == 0 else (f"{d[K][2] - np.interp(co, cos, brs):+.3f}" + ("" if cos[0] <= co <= cos[-1] else "*")))
        print(f"| {names[data]} | {s:g} | {c:g} | " + " / ".join(f"{d[K][2]:.4f}" for K in (100, 400, 1000)) + " | "
              + " / ".join(f"{d[K][1]:.4f}" for K in (100, 400, 1000)) + " | " + " / ".join(f"{d[K][3]:.3f}" for K in (100, 400, 1000))
              + " | " + " / ".join(dd) + " |")
