"""The val grid of segment(sigma=s) at compactness c (rows from s.py: contour_probe_sigma.py at 51725c7, run on the code at 891a35e; log grid.log) as a markdown table."""
import re, numpy as np, collections
rows = collections.defaultdict(dict)
for l in open("grid.log"):
    if l.startswith("done"): continue
    p = l.split(" | ")[0].split()
    data, sig, c = p[0], float(p[2]), float(p[3])
    ks = re.findall(r"K=(\d+) k=(\d+) ASA=([\d.]+) BR=([\d.]+) CO=([\d.]+)", l)
    rows[data][(sig, c)] = {int(K): (int(k), float(a), float(b), float(o)) for K, k, a, b, o in ks}
names = {"bsds": "BSDS500 val (50)", "sbd": "SBD val (50)", "dsb": "DSB2018 (65)"}
ok_all = collections.defaultdict(lambda: True)
for data in rows:
    base = rows[data][(0.0, 26.0)]
    for key, d in rows[data].items():
        ok_all[key] &= all(d[K][3] >= base[K][3] for K in (100, 400, 1000))
print("| set | blur (px) | compactness | BR K=100 / 400 / 1000 | ASA K=100 / 400 / 1000 | CO K=100 / 400 / 1000 | CO >= today's on this set | on all three |")
print("|---|---:|---:|---|---|---|---|---|")
for data in ("bsds", "sbd", "dsb"):
    r = rows[data]; base = r[(0.0, 26.0)]
    for key in sorted(r):
        d = r[key]
        ok = all(d[K][3] >= base[K][3] for K in (100, 400, 1000))
        print(f"| {names[data]} | {key[0]:g} | {key[1]:g} | " + " / ".join(f"{d[K][2]:.4f}" for K in (100, 400, 1000)) + " | "
              + " / ".join(f"{d[K][1]:.4f}" for K in (100, 400, 1000)) + " | " + " / ".join(f"{d[K][3]:.3f}" for K in (100, 400, 1000))
              + f" | {'yes' if ok else 'no'} | {'**yes**' if ok_all[key] and key != (0.0, 26.0) else ('(today)' if key == (0.0, 26.0) else 'no')} |")
