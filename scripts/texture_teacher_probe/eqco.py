import json, numpy as np, glob
none = {}
for f in glob.glob("/work/main/docs/benchmarks/contour-val/*.jsonl") + ["/tmp/tex/none.jsonl"]:
    for l in open(f):
        r = json.loads(l)
        if r["model"] == "none" and r["spec"].startswith("compact") and "contour" not in r["spec"] and (r["spec"], r["set"]) != ("compact:compactness=18", r["set"]):
            none.setdefault(r["set"], []).append(r)
def ref(s, k, co):
    pts = sorted((r[f"co{k}"], r[f"br{k}"]) for r in none[s])
    x, y = zip(*pts)
    return float(np.interp(co, x, y)), (co < x[0] or co > x[-1])
rows = [json.loads(l) for l in open("/tmp/tex/grid.jsonl")]
print("| set | map | spec | BR over the input at equal CO, K = 100 / 400 / 1000 | CO |")
print("|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (r["set"], r["map"], r["spec"])):
    d = []
    for k in (100, 400, 1000):
        v, out = ref(r["set"], k, r[f"co{k}"])
        d.append(("%+.4f" % (r[f"br{k}"] - v)) + ("*" if out else ""))
    print(f"| {r['set']} | {r['map']} | {r['spec']} | {' / '.join(d)} | {' / '.join('%.3f' % r[f'co{k}'] for k in (100, 400, 1000))} |")
