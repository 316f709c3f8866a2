"""Probe (2026-12-03, kept in git history only): the clustering's CIELAB (its colour term
beside the features, edge weights, Potts contrast) standardised per channel (the default
before) or on one common scale (`joint`: s_c / rms(s); `count`: per channel but total
variance 3), scored on BSDS500 val, SBD val (Stutz's split) or DSB2018, with gray and colour
images apart. Run it at commit e476c94's parent (c803fa5), where the clustering still took
the per-channel colour and this script patches it:

    python scripts/colour_scale_probe.py bsds default,joint,joint28 100,400,1000 100
    python scripts/colour_scale_probe.py sbd default,joint,joint28 100,400 238
    python scripts/colour_scale_probe.py dsb default,joint,count,default20,default14,default10 100,400 65

Findings: docs/compactness.md, "2026-12-03: one colour scale".
"""
import os
import sys, numpy as np, torch, numba, time
from pathlib import Path
torch.set_num_threads(1); numba.set_num_threads(1)
import lnsnet, lnsnet.inference as inf
from lnsnet.eval.datasets import BSDS500, FolderDataset
from lnsnet.eval.metrics import score
from skimage.color import rgb2lab
D=os.environ.get('LNSNET_DATA', '../shared/data')
which=sys.argv[1]; variants=sys.argv[2].split(','); Ks=[int(k) for k in sys.argv[3].split(',')]
n=int(sys.argv[4]) if len(sys.argv)>4 else 50
ignore=None
if which=='bsds': ds=BSDS500(D+'/bsds500','val')
elif which=='sbd':
    names=open(D+'/sbd/splits/stutz_val_238.txt').read().split()
    ds=FolderDataset(D+'/sbd/images',D+'/sbd/labels',names=names,ignore_label=0); ignore=0
elif which=='dsb': ds=FolderDataset(D+'/dsb2018-nuclei/images',D+'/dsb2018-nuclei/labels')
FAC=[None]
CL={'joint28':'compact:compactness=28','joint30':'compact:compactness=30','joint32':'compact:compactness=32','default20':'compact:compactness=20','default14':'compact:compactness=14','default10':'compact:compactness=10'}
orig=inf.cluster_pixels
def patched(z,image,grid,seed_feats,pos,options,extra=None,**kw):
    f=FAC[0]
    if f is not None:
        image=image*f[:,None,None]
        if extra is not None:
            extra=extra*f[:,None,None]
            C=seed_feats.shape[-1]-3
            seed_feats=seed_feats.clone(); seed_feats[:,C:]*=torch.from_numpy(f)
    return orig(z,image,grid,seed_feats,pos,options,extra=extra,**kw)
inf.cluster_pixels=patched
net=lnsnet.load_model()
res={}
t0=time.time()
for i in range(min(n,len(ds))):
    s=ds[i]; img=s.image
    rgb=img if img.ndim==3 else np.stack([img]*3,-1)
    lab=rgb2lab(rgb[...,:3]).reshape(-1,3)
    sd=lab.std(0); sd=np.where(sd>1e-3,sd,0)
    for v in variants:
        if v.startswith('default'): FAC[0]=None
        elif v=='joint':
            FAC[0]=(sd/np.sqrt((sd**2).mean())).astype(np.float32)
        elif v=='count':
            nz=(sd>0).sum(); FAC[0]=np.where(sd>0, np.sqrt(3.0/max(nz,1)), 0).astype(np.float32)
        elif v.startswith('joint'):
            FAC[0]=(sd/np.sqrt((sd**2).mean())).astype(np.float32)
        for K in Ks:
            if v=='slic':
                from skimage.segmentation import slic
                sp=slic(rgb,K,start_label=0)
            else:
                sp=lnsnet.segment(img,K,model=net,clustering=CL.get(v))
            sc=score(sp,s.ground_truths,ignore=ignore)
            grey=float(np.abs(lab[:,1:]).max()<1e-2)
            res.setdefault((v,K),[]).append([sc['br_best'],sc['asa_best'],sc['co'],sc['n_segments'],sc['ue_best'],grey])
print(which, 'images', min(n,len(ds)), 'time', round(time.time()-t0))
for (v,K),a in sorted(res.items(), key=lambda t:(t[0][1],t[0][0])):
    A=np.array(a); a=A.mean(0)
    g=A[A[:,5]==1].mean(0) if (A[:,5]==1).any() else np.zeros(6)
    c=A[A[:,5]==0].mean(0) if (A[:,5]==0).any() else np.zeros(6)
    print(f"   grey n={int((A[:,5]==1).sum())} BR {g[0]:.4f} ASA {g[1]:.4f} CO {g[2]:.3f} | colour BR {c[0]:.4f} ASA {c[1]:.4f} CO {c[2]:.3f}")
    print(f"{v:8s} K={K:5d} BR {a[0]:.4f} ASA {a[1]:.4f} CO {a[2]:.3f} k {a[3]:.1f} UE {a[4]:.4f}")
