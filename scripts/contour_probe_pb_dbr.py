# Reads /tmp/probe/results.txt (written by contour_probe_pb_score.py and _headscore.py): dBR / dASA against model="none"s BR-CO curve on the same data (quadratic fit of its compactness sweep).
import re, numpy as np
rows = []
for l in dict.fromkeys(open("results.txt").read().splitlines()):
    tag, rest = l.split(" | ", 1)
    ks = re.findall(r"K=(\d+) k=\d+ ASA=([\d.]+) BR=([\d.]+) CO=([\d.]+)", rest)
    rows.append((tag, {int(k): (float(a), float(b), float(c)) for k, a, b, c in ks}))
def dom(t): return t.split()[0] if t.split()[0] in ("sbd", "dsb", "bsds", "dsb33") else "bsds"
def body(t): return t.split(" ", 1)[1] if t.split()[0] in ("sbd", "dsb", "bsds", "dsb33") else t
for tag, d in rows:
    base = [r for r in rows if dom(r[0]) == dom(tag) and body(r[0]).startswith("none")]
    if body(tag).startswith("none"): continue
    out = []
    for k, (asa, br, co) in d.items():
        pts = sorted((b[1][k][2], b[1][k][1], b[1][k][0]) for b in base)
        cos, brs, asas = map(np.array, zip(*pts))
        # linear fit near (least squares over all points, quadratic)
        pb = np.polyfit(cos, brs, 2); pa = np.polyfit(cos, asas, 2)
        out.append(f"K{k}: dBR {br-np.polyval(pb,co):+.4f} dASA {asa-np.polyval(pa,co):+.4f} (CO {co:.3f})")
    print(dom(tag), body(tag).replace(" compact:", " ").replace("model=none", ""), " | ".join(out))
