"""HDT and g = normalise(HDT + sPb) for the 200 BSDS500 train images (name order), to /tmp/tex/train/NAME.npz"""
import sys, os, glob, time, numpy as np
sys.path.insert(0, "/tmp/tex"); sys.path.insert(0, "/work/main/scripts")
import torch; torch.set_num_threads(1)
from maps import maps
from spb import spb
from lnsnet.features import _normalise01
from PIL import Image
part, nparts = int(sys.argv[1]), int(sys.argv[2])
files = sorted(glob.glob("/work/shared/data/bsds500/images/train/*.jpg"))
os.makedirs("/tmp/tex/train", exist_ok=True)
for f in files[part::nparts]:
    out = "/tmp/tex/train/" + os.path.basename(f)[:-4] + ".npz"
    if os.path.exists(out): continue
    t = time.time()
    rgb = np.asarray(Image.open(f).convert("RGB"))
    hd, hdt = maps(rgb / 255.0)
    sp = spb(hdt.astype(np.float64))
    g = _normalise01(hdt + sp)
    np.savez_compressed(out, hdt=hdt.astype(np.float16), spb=sp.astype(np.float16), g=g.astype(np.float16))
    print(os.path.basename(f), "%.1fs" % (time.time() - t), flush=True)
