"""Probe (2026-12-04): the contour factor floored at FLOOR times its maximum, then renormalised to mean 1; usage: python scripts/probe_contour_floor.py FLOOR --set bsds|sbd|dsb --model bsds500 --spec compact:compactness=C --log LOG (rows as scripts/contour_grid_val.py writes)."""
import sys, argparse
sys.path.insert(0, __import__("os").path.dirname(__file__))
import contour_grid_val as G
import lnsnet.inference as I
from lnsnet.model import contour as C
floor = float(sys.argv.pop(1))
orig = C.contour_factor
def fac(b, strength, mask=None):
    f = orig(b, strength, mask)
    f = f.clamp_min(floor * float(f.max())) if floor > 0 else f
    return f / f.mean(dim=(-2, -1), keepdim=True)
I.contour_factor = fac
ap = argparse.ArgumentParser(); ap.add_argument("--set"); ap.add_argument("--model"); ap.add_argument("--spec")
ap.add_argument("--data", default="/work/shared/data"); ap.add_argument("--log")
a = ap.parse_args(); a.spec = a.spec; G.run(a)
