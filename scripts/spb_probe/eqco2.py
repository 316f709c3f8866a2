import json, numpy as np, glob, sys
none = {}
for f in glob.glob("/work/main/docs/benchmarks/contour-val/grid.jsonl") + ["/tmp/tex/none.jsonl"]:
    for l in open(f):
        r = json.loads(l)
        if r["model"] == "none" and r["spec"].startswith("compact") and "contour" not in r["spec"]:
            none.setdefault(r["set"], []).append(r)
def ref(s, k, co, m):
    pts = sorted((r[f"co{k}"], r[f"{m}{k}"]) for r in none[s])
    x, y = zip(*pts)
    return float(np.interp(co, x, y)), (co < x[0] or co > x[-1])
rows = [json.loads(l) for l in open(sys.argv[1] if len(sys.argv) > 1 else "/work/main/docs/benchmarks/contour-val/spb-probe.jsonl")]
print("| set | map | spec | dBR K=100 / 400 / 1000 | dASA | CO |")
print("|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (r["set"], r["map"], r["spec"])):
    out = []
    for m, fmt in (("br", "%+.4f"), ("asa", "%+.4f")):
        d = []
        for k in (100, 400, 1000):
            v, o = ref(r["set"], k, r[f"co{k}"], m)
            d.append((fmt % (r[f"{m}{k}"] - v)) + ("*" if o else ""))
        out.append(" / ".join(d))
    print(f"| {r['set']} | {r['map']} | {r['spec']} | {out[0]} | {out[1]} | {' / '.join('%.3f' % r[f'co{k}'] for k in (100, 400, 1000))} |")
