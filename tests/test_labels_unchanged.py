"""The labels of the default (``fast`` since 2026-12-05; its 40 entries added then), the
compact and the paper's clustering on 20 BSDS500 test images
(the first 20 by name, K = 200 and 1000) are the ones the code gave before the clustering
layer moved into ``lnsnet.cluster`` (commit 738f47a; the compact entries rewritten on
2026-12-02, when the compact preset took the input beside the learned features,
``input_weight=2.5``, compactness 26; 2 entries of the paper's clustering rewritten on
2026-12-03, when the CPU network went channels-last: rounding of the features; the 40
compact entries rewritten later that day, when the clustering took the colour channels on
one common scale, ``lnsnet.features.colour_scale_of``, again on 2026-12-04, when the
compact preset took a 0.8 px blur and compactness 18, and later that day, when the shipped
model took its contour head and the preset contour 4 and compactness 24; 4 compact entries
on 2026-12-05, when the encoding's powers came from tables (values within a unit in the
last place, other last bits: near-ties; on 50 val images ASA, BR and CO equal to 4
decimals, ``python benchmarks/same_labels.py --against 0c7b058``); the paper's
clustering's 40 entries stayed, its network unchanged, until later on 2026-12-05, when the
connectivity's merges took each colour channel weighed by its share of structure
(``lnsnet.prepare.merge_colour``; 73 of the 80 entries rewritten, chosen on val:
``docs/learning.md``, "The connectivity's merges, not the blur, break the noisy step"), and
26 compact entries on 2026-12-05, when the blur's slivers at sharp edges were given back
(``lnsnet.connectivity.reassign_slivers``; ``docs/learning.md``, "The blur's ramps at sharp
junctions"), and 101 of the 120 on 2026-12-06, when the connectivity's small pieces
joined smallest first and only as far as they need (``lnsnet.connectivity._join``; on 50 val
images BR +0.0002 to +0.0008, ASA +0 to +0.0002, the same CO: ``docs/reliability.md``)):
``tests/data/labels_before.json`` holds the sha256 of each label map (int32, C order).

On the full set all 120 entries are checked; on the three-image set in
``tests/data/bsds500-mini`` (used when no full set is found, see ``tests/conftest.py``) the
18 entries of its images, which are among the 20.

A change that means to alter the labels rewrites that file, on purpose and in its own
commit: ``python tests/test_labels_unchanged.py --write`` (with ``LNSNET_BSDS500`` set or
``../shared/data/bsds500`` beside the checkout).
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import lnsnet
from lnsnet.io import read_image

REFERENCE = Path(__file__).parent / "data" / "labels_before.json"
KS = (200, 1000)
CLUSTERINGS = ("fast", "compact", "paper")


def _digests(root: Path) -> dict:
    files = sorted((root / "images" / "test").glob("*.jpg"))[:20]
    out = {}
    for f in files:
        image = read_image(f)
        for clustering in CLUSTERINGS:
            for k in KS:
                labels = np.ascontiguousarray(lnsnet.segment(image, k, clustering=clustering, start_label=0),
                                              dtype=np.int32)
                out[f"{f.stem}:{clustering}:{k}"] = hashlib.sha256(labels.tobytes()).hexdigest()
    return out


def test_labels_identical_to_before_the_refactor(bsds500, bsds500_full):
    want = json.loads(REFERENCE.read_text())
    per_image = len(KS) * len(CLUSTERINGS)
    assert len(want) == 20 * per_image
    got = _digests(bsds500)
    if bsds500_full:
        assert got.keys() == want.keys()
    else:  # the mini set: every image among the 20 the table covers, each checked
        n_images = len(list((bsds500 / "images" / "test").glob("*.jpg")))
        assert n_images >= 1 and len(got) == n_images * per_image, sorted(got)
        assert got.keys() <= want.keys(), f"not in {REFERENCE.name}: {sorted(got.keys() - want.keys())}"
    changed = sorted(key for key in got if got[key] != want[key])
    assert not changed, f"{len(changed)} label maps changed, e.g. {changed[:5]}"


if __name__ == "__main__" and "--write" in sys.argv:
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import bsds_root

    REFERENCE.write_text(json.dumps(_digests(bsds_root()), indent=1, sort_keys=True) + "\n")
