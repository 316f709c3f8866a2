# Probe (2026-12-03, history only): the channels-first assignment kernel against the shipped one.
# python benchmarks/probe_planar/bench.py 2   (threads); reads BSDS500 test from /work/shared/data/bsds500
import sys; sys.path.insert(0,'benchmarks/probe_planar')
import numpy as np, torch, time, numba, statistics
from pathlib import Path
th=int(sys.argv[1]); torch.set_num_threads(th); numba.set_num_threads(th)
import lnsnet
from lnsnet.cluster import kernels
from lnsnet.grid import make_grid
from lnsnet.io import read_image, to_float_rgb
from lnsnet.features import encode
from planar import assign_planar
net=lnsnet.load_model()
files=sorted(Path('/work/shared/data/bsds500/images/test').glob('*.jpg'))[:8]
for K in (100,1000,5000):
  ta=[];tb=[];tc=[];td=[];diff=0;tot=0
  for f in files:
    im=to_float_rgb(read_image(f)); x=encode(im)
    with torch.inference_mode(): z=net.embed(x)[0].numpy()
    z=np.concatenate([z, x[0,:3].numpy()*2.5]).astype(np.float32)
    zp=np.ascontiguousarray(z)
    C,h,w=z.shape
    grid=make_grid(h,w,K)
    pr,pc=(t.numpy().astype(np.int64) for t in grid.pixel_cells())
    pos=grid.centres().numpy().astype(np.float32)
    rng=np.random.default_rng(0)
    seeds=zp[:, pos[:,0].astype(int), pos[:,1].astype(int)].T.copy()
    weight=26/(grid.cell_size[0]*grid.cell_size[1])
    wmap=rng.uniform(0.2,1,(h,w)).astype(np.float32)
    zt=np.zeros((h,w,kernels.padded_channels(C)),np.float32); zt[...,:C]=z.transpose(1,2,0)
    ref=kernels.local_assign(zt,seeds,grid.rows,grid.cols,pr,pc,pos,weight,0,3,wmap,return_best=True,channels_last=True,return_dists=True)
    tab,ptab=kernels.seed_tables(seeds,grid.rows,grid.cols,3,pos)
    wm=np.ascontiguousarray(weight*wmap)
    out=np.empty((h,w),np.int32); best=np.empty((h,w),np.float32); dd=np.empty((h,w,9),np.float32)
    args=(zp,tab,pr,pc,grid.cols,ptab,wm,True,0,3,out,best,dd,True,np.float32(1),np.float32(1))
    assign_planar(*args)
    diff+=(out!=ref[0]).sum(); tot+=out.size
    args2=args[:13]+(False,)+args[14:]
    for i in range(5):
        t=time.perf_counter(); kernels.local_assign(zt,seeds,grid.rows,grid.cols,pr,pc,pos,weight,0,3,wmap,return_best=True,channels_last=True); tc.append(time.perf_counter()-t)
        t=time.perf_counter(); assign_planar(*args2); td.append(time.perf_counter()-t)
        t=time.perf_counter(); kernels.local_assign(zt,seeds,grid.rows,grid.cols,pr,pc,pos,weight,0,3,wmap,return_best=True,channels_last=True,return_dists=True); ta.append(time.perf_counter()-t)
        t=time.perf_counter(); assign_planar(*args); tb.append(time.perf_counter()-t)
  print(K, "nodists old %.2f new %.2f"%(statistics.median(tc)*1e3, statistics.median(td)*1e3))
  print(K, "old %.2f ms new %.2f ms  labels differ %d / %d  maxdist diff %.2g"%(statistics.median(ta)*1e3, statistics.median(tb)*1e3, diff, tot, np.abs(best-ref[1]).max()))

