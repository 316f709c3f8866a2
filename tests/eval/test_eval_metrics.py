"""Tests of lnsnet.eval.metrics on label maps small enough to score by hand.

Maps used throughout (6x6, rows top to bottom):

GT_HALVES: columns 0-2 label 0 (segment A), columns 3-5 label 1 (segment B).
    Boundary pixels B(GT) = column 2 (each differs from its right neighbour): 6 pixels.
SP3: top-left 3x3 label 0 (s0), top-right 3x3 label 1 (s1), bottom 3x6 label 2 (s2).
    B(SP3): (0,2), (1,2) (right neighbour differs) and the whole row 2, (2,0)..(2,5)
    (lower neighbour differs): 8 pixels.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnsnet.eval import metrics as M

GT_HALVES = np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)
SP3 = np.array(
    [[0, 0, 0, 1, 1, 1]] * 3 + [[2, 2, 2, 2, 2, 2]] * 3
)
ONE = np.zeros((6, 6), dtype=int)
ALL_DIFFERENT = np.arange(36).reshape(6, 6)


# ----------------------------------------------------------------- boundary recall/precision


def test_boundary_shift_by_one_column_r0_vs_r1():
    # SP boundary at column 3 (cols 0-3 vs 4-5), GT boundary at column 2.
    # r=1: every GT pixel (i,2) has (i,3) in its 3x3 window -> BR = 6/6; symmetric BP = 1.
    # r=0: no pixel coincides -> BR = BP = 0.
    sp = np.repeat([[0, 0, 0, 0, 1, 1]], 6, axis=0)
    assert M.boundary_recall(sp, GT_HALVES, r=1) == 1.0
    assert M.boundary_precision(sp, GT_HALVES, r=1) == 1.0
    assert M.boundary_recall(sp, GT_HALVES, r=0) == 0.0
    assert M.boundary_precision(sp, GT_HALVES, r=0) == 0.0


def test_boundary_two_columns_away_needs_r2():
    # SP boundary at column 4: Chebyshev distance 2 from column 2 -> missed at r=1, hit at r=2
    sp = np.repeat([[0, 0, 0, 0, 0, 1]], 6, axis=0)
    assert M.boundary_recall(sp, GT_HALVES, r=1) == 0.0
    assert M.boundary_recall(sp, GT_HALVES, r=2) == 1.0
    assert M.boundary_precision(sp, GT_HALVES, r=2) == 1.0


def test_boundary_recall_precision_sp3_by_hand():
    # r=0: B(GT) ∩ B(SP3) = (0,2),(1,2),(2,2) -> BR = 3/6, BP = 3/8.
    assert M.boundary_recall(SP3, GT_HALVES, r=0) == pytest.approx(3 / 6)
    assert M.boundary_precision(SP3, GT_HALVES, r=0) == pytest.approx(3 / 8)
    # r=1, recall: GT pixel (i,2) is hit for i=0,1,2 (on B(SP3)) and i=3 (row 2 is one row
    # up); i=4,5 have no SP boundary within one row -> 4/6.
    assert M.boundary_recall(SP3, GT_HALVES, r=1) == pytest.approx(4 / 6)
    # r=1, precision: SP boundary pixels within one column of column 2 are (0,2),(1,2),
    # (2,1),(2,2),(2,3) -> 5 of 8; (2,0),(2,4),(2,5) are too far.
    assert M.boundary_precision(SP3, GT_HALVES, r=1) == pytest.approx(5 / 8)


def test_empty_boundary_sets_convention():
    # No GT boundary: nothing to recall -> BR = 1.0 whatever the superpixels.
    assert M.boundary_recall(SP3, ONE) == 1.0
    # No SP boundary: nothing claimed -> BP = 1.0; but every GT boundary missed -> BR = 0.
    assert M.boundary_precision(ONE, GT_HALVES) == 1.0
    assert M.boundary_recall(ONE, GT_HALVES) == 0.0
    # GT has no boundary but SP has 8 boundary pixels: none is near a true one -> BP = 0.
    assert M.boundary_precision(SP3, ONE) == 0.0
    # Both empty: BR = BP = 1.
    assert M.boundary_recall(ONE, ONE) == 1.0 and M.boundary_precision(ONE, ONE) == 1.0


def test_identical_segmentations_score_perfect_boundaries():
    for r in (0, 1, 3):
        assert M.boundary_recall(SP3, SP3, r=r) == 1.0
        assert M.boundary_precision(SP3, SP3, r=r) == 1.0


def test_all_different_pixels_recall_everything():
    # every pixel except (5,5) is an SP boundary pixel, so every GT boundary pixel is hit
    assert M.boundary_recall(ALL_DIFFERENT, GT_HALVES, r=0) == 1.0
    # BP at r=0: the 6 GT boundary pixels among the 35 SP boundary pixels
    assert M.boundary_precision(ALL_DIFFERENT, GT_HALVES, r=0) == pytest.approx(6 / 35)
    # r=1: SP boundary pixels in columns 1..3 are near column 2: 3 columns x 6 rows = 18
    assert M.boundary_precision(ALL_DIFFERENT, GT_HALVES, r=1) == pytest.approx(18 / 35)


def test_radius_and_shape_validation():
    with pytest.raises(ValueError, match="radius"):
        M.boundary_recall(SP3, GT_HALVES, r=-1)
    with pytest.raises(ValueError, match="radius"):
        M.boundary_recall(SP3, GT_HALVES, r=1.5)
    with pytest.raises(ValueError, match="same shape"):
        M.boundary_precision(SP3, GT_HALVES[:, :5])
    with pytest.raises(ValueError, match="integer dtype"):
        M.asa(SP3.astype(float), GT_HALVES)


# ------------------------------------------------------------------------------- F-measure


def test_f_measure_by_hand():
    # F_beta = (1+b^2) P R / (b^2 P + R)
    # P=0.5, R=1, b=1: 2*0.5/(0.5+1) = 2/3; b=4: 17*0.5/(8+1) = 8.5/9
    assert M.f_measure(0.5, 1.0, beta=1) == pytest.approx(2 / 3)
    assert M.f_measure(0.5, 1.0) == pytest.approx(8.5 / 9)
    # SP3 vs GT_HALVES at r=1: P=5/8, R=2/3.
    # b=4: 17*(5/12) / (16*5/8 + 2/3) = (85/12)/(32/3) = 255/384
    # b=1: 2*(5/12) / (5/8 + 2/3) = (5/6)/(31/24) = 20/31
    assert M.f_measure(5 / 8, 2 / 3) == pytest.approx(255 / 384)
    assert M.f_measure(5 / 8, 2 / 3, beta=1) == pytest.approx(20 / 31)
    assert M.f_measure(0.0, 0.0) == 0.0
    assert M.f_measure(1.0, 1.0) == 1.0
    # beta > 1 favours recall: same pair swapped scores lower with beta=4
    assert M.f_measure(1.0, 0.5) < M.f_measure(0.5, 1.0)


def test_f_measure_validation():
    with pytest.raises(ValueError, match="beta"):
        M.f_measure(0.5, 0.5, beta=0)
    with pytest.raises(ValueError, match="precision"):
        M.f_measure(1.5, 0.5)
    with pytest.raises(ValueError, match="recall"):
        M.f_measure(0.5, -0.1)


# ------------------------------------------------------------------------------ ASA and UE


def test_asa_ue_sp3_by_hand():
    # s0 (9 px) lies in A, s1 (9 px) in B, s2 (18 px) has 9 in A and 9 in B.
    # ASA = (9 + 9 + 9) / 36 = 0.75
    # UE = [A: min(9,0) + min(9,9)] + [B: min(9,0) + min(9,9)] = 18 -> 18/36 = 0.5
    assert M.asa(SP3, GT_HALVES) == pytest.approx(0.75)
    assert M.undersegmentation_error(SP3, GT_HALVES) == pytest.approx(0.5)


def test_asa_ue_stripes_by_hand():
    # 4x4, GT: A = cols 0-1, B = cols 2-3. SP: s0 = cols 0-2 (8 px in A, 4 in B),
    # s1 = col 3 (4 px in B).
    # ASA = (8 + 4) / 16 = 0.75; UE = A: min(8,4) + B: min(4,8) + min(4,0) = 8 -> 0.5
    gt = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    sp = np.repeat([[0, 0, 0, 1]], 4, axis=0)
    assert M.asa(sp, gt) == pytest.approx(0.75)
    assert M.undersegmentation_error(sp, gt) == pytest.approx(0.5)


def test_asa_ue_one_segment_and_all_different():
    # One superpixel over two halves of 18: ASA = 18/36; UE = min(18,18)*2/36 = 1
    assert M.asa(ONE, GT_HALVES) == pytest.approx(0.5)
    assert M.undersegmentation_error(ONE, GT_HALVES) == pytest.approx(1.0)
    # Every pixel its own superpixel: each lies in one GT segment -> ASA 1, UE 0
    assert M.asa(ALL_DIFFERENT, GT_HALVES) == 1.0
    assert M.undersegmentation_error(ALL_DIFFERENT, GT_HALVES) == 0.0
    # One GT segment: any superpixels lie inside it -> ASA 1, UE 0
    assert M.asa(SP3, ONE) == 1.0
    assert M.undersegmentation_error(SP3, ONE) == 0.0
    # identical segmentations
    assert M.asa(SP3, SP3) == 1.0 and M.undersegmentation_error(SP3, SP3) == 0.0


def _dominoes(n: int, vertical: bool) -> np.ndarray:
    """n x n map tiled by 2x1 (vertical) or 1x2 (horizontal) dominoes."""
    i, j = np.indices((n, n))
    return (i // 2) * n + j if vertical else i * n + j // 2


@pytest.mark.parametrize("n", [4, 40])  # 4: dense contingency table; 40: sorted sparse path
def test_asa_ue_crossed_dominoes(n):
    # Each vertical domino {(2a,b),(2a+1,b)} meets two horizontal dominoes, one pixel each:
    # max overlap 1 per superpixel -> ASA = (N/2)/N = 0.5; every overlap gives
    # min(1, 2-1) = 1, two per superpixel -> UE = N/N = 1.
    # n=40: 800 x 800 = 640000 table cells > 8N + 4096, so the sparse path runs.
    sp = _dominoes(n, vertical=True)
    gt = _dominoes(n, vertical=False)
    assert M.asa(sp, gt) == pytest.approx(0.5)
    assert M.undersegmentation_error(sp, gt) == pytest.approx(1.0)


def test_label_values_do_not_matter():
    # negative and huge label values are only names
    sp = SP3 * 1_000_000_007 - 5
    gt = GT_HALVES - 100
    assert M.asa(sp, gt) == pytest.approx(0.75)
    assert M.undersegmentation_error(sp, gt) == pytest.approx(0.5)
    assert M.boundary_recall(sp, gt) == pytest.approx(4 / 6)


def test_contingency_cells():
    # SP3 x GT_HALVES: cells (s0,A)=9, (s1,B)=9, (s2,A)=9, (s2,B)=9
    rows, cols, counts, sizes = M.contingency(SP3, GT_HALVES)
    cells = sorted(zip(rows.tolist(), cols.tolist(), counts.tolist()))
    assert cells == [(0, 0, 9), (1, 1, 9), (2, 0, 9), (2, 1, 9)]
    assert sizes.tolist() == [9, 9, 18]


# ------------------------------------------------------------------------------ compactness


def test_compactness_by_hand():
    # One 4x4 segment: A = 16, P = 16 edges -> Q = 4*pi*16/256 = pi/4
    assert M.compactness(np.zeros((4, 4), int)) == pytest.approx(math.pi / 4)
    # Two 4x2 halves: A = 8, P = 2*(4+2) = 12 -> Q = 32 pi / 144 = 2 pi / 9 each
    halves = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    assert M.compactness(halves) == pytest.approx(2 * math.pi / 9)
    # All different: every pixel A = 1, P = 4 -> Q = pi/4
    assert M.compactness(np.arange(9).reshape(3, 3)) == pytest.approx(math.pi / 4)
    # 4x4 split into col 0 (A=4, P=2*(4+1)=10, Q=16pi/100) and cols 1-3
    # (A=12, P=2*(4+3)=14, Q=48pi/196): CO = 4/16*16pi/100 + 12/16*48pi/196
    strip = np.repeat([[0, 1, 1, 1]], 4, axis=0)
    expected = 4 / 16 * 16 * math.pi / 100 + 12 / 16 * 48 * math.pi / 196
    assert M.compactness(strip) == pytest.approx(expected)


def test_compactness_counts_inner_perimeter_of_a_ring():
    # 3x3, centre label 1 (A=1, P=4, Q=pi/4), ring label 0: A=8, P = 12 outer + 4 inner
    # edges = 16 -> Q = 32pi/256 = pi/8. CO = 8/9 * pi/8 + 1/9 * pi/4 = 5 pi / 36
    ring = np.zeros((3, 3), int)
    ring[1, 1] = 1
    assert M.compactness(ring) == pytest.approx(5 * math.pi / 36)


def test_compactness_sp3():
    # s0, s1: 3x3, A=9, P=12, Q=pi/4; s2: 3x6, A=18, P=18, Q=72pi/324=2pi/9
    # CO = 2 * 9/36 * pi/4 + 18/36 * 2pi/9 = pi/8 + pi/9 = 17 pi / 72
    assert M.compactness(SP3) == pytest.approx(17 * math.pi / 72)


# ----------------------------------------------------------------------- explained variation

GRAY = np.array([[0.0, 2.0], [4.0, 6.0]])  # mean 3, total variation 9+1+1+9 = 20


def test_explained_variation_gray_by_hand():
    cols = np.array([[0, 1], [0, 1]])  # means 2 and 4: 2*1 + 2*1 = 4 -> 4/20
    rows = np.array([[0, 0], [1, 1]])  # means 1 and 5: 2*4 + 2*4 = 16 -> 16/20
    assert M.explained_variation(cols, GRAY) == pytest.approx(0.2)
    assert M.explained_variation(rows, GRAY) == pytest.approx(0.8)
    assert M.explained_variation(np.zeros((2, 2), int), GRAY) == 0.0
    assert M.explained_variation(np.arange(4).reshape(2, 2), GRAY) == pytest.approx(1.0)


def test_explained_variation_colour_sums_channels():
    # ch0 = GRAY (rows explain 16 of 20), ch1 = GRAY.T (rows explain 4 of 20),
    # ch2 constant (0 of 0) -> (16 + 4) / (20 + 20 + 0) = 0.5
    img = np.stack([GRAY, GRAY.T, np.full((2, 2), 7.0)], axis=-1)
    rows = np.array([[0, 0], [1, 1]])
    assert M.explained_variation(rows, img) == pytest.approx(0.5)
    # uint8 input is used as is
    assert M.explained_variation(rows, img.astype(np.uint8)) == pytest.approx(0.5)


def test_explained_variation_constant_image_convention_and_errors():
    assert M.explained_variation(np.array([[0, 1]]), np.full((1, 2, 3), 5.0)) == 1.0
    with pytest.raises(ValueError, match="image must have shape"):
        M.explained_variation(np.zeros((2, 2), int), np.zeros((3, 2)))


# ----------------------------------------------------------------------------------- counts


def test_counts():
    assert M.n_segments(np.array([[3, 7], [7, -1]])) == 3
    assert M.n_segments(ONE) == 1
    assert M.n_segments(ALL_DIFFERENT) == 36
    # [[0,1],[1,0]]: both labels touch only diagonally -> both disconnected
    assert M.n_disconnected(np.array([[0, 1], [1, 0]])) == 2
    assert M.n_disconnected(SP3) == 0
    # label 0 in two separate columns, label 1 between them -> 1 disconnected label
    assert M.n_disconnected(np.array([[0, 1, 0]] * 3)) == 1


# ------------------------------------------------------------------------------------ score


def test_score_best_and_mean_by_hand():
    # annotator 1 = GT_HALVES: ASA 0.75, UE 0.5, BR 2/3, BP 5/8, F 255/384, F1 20/31
    # annotator 2 = ONE: ASA 1, UE 0; no GT boundary, so it is left out of BR, BP and F
    #   (its BR of 1 would otherwise be the best, its BP of 0 would lower the mean)
    s = M.score(SP3, [GT_HALVES, ONE])
    assert list(s) == list(M.SCORE_KEYS)
    assert all(type(v) is float for v in s.values())
    expected = {
        "asa_best": 1.0, "asa_mean": 0.875,
        "ue_best": 0.0, "ue_mean": 0.25,  # UE: lower is better, best = min
        "br_best": 2 / 3, "br_mean": 2 / 3,
        "bp_best": 5 / 8, "bp_mean": 5 / 8,
        "f_best": 255 / 384, "f_mean": 255 / 384,
        "f1_best": 20 / 31, "f1_mean": 20 / 31,
        "co": 17 * math.pi / 72,
        "n_segments": 3.0, "n_disconnected": 0.0, "n_annotations": 2.0,
    }  # fmt: skip
    for k, v in expected.items():
        assert s[k] == pytest.approx(v), k
    assert math.isnan(s["ev"])


def test_score_r0_and_beta_are_passed():
    # r=0, annotator GT_HALVES only: BR = 3/6, BP = 3/8; beta=1 makes f equal to f1:
    # 2*(3/8)(1/2)/(3/8+1/2) = (3/8)/(7/8) = 3/7
    s = M.score(SP3, [GT_HALVES], r=0, beta=1.0)
    assert s["br_best"] == pytest.approx(0.5) and s["bp_mean"] == pytest.approx(3 / 8)
    assert s["f_best"] == pytest.approx(3 / 7) and s["f1_best"] == pytest.approx(3 / 7)


def test_score_accepts_stack_and_single_map_and_image():
    stack = np.stack([GT_HALVES, ONE])
    assert M.score(SP3, stack) == pytest.approx(M.score(SP3, [GT_HALVES, ONE]), nan_ok=True)
    one = M.score(SP3, GT_HALVES, image=np.dstack([SP3 * 10.0] * 3))
    assert one["n_annotations"] == 1.0 and one["asa_best"] == pytest.approx(0.75)
    # image constant inside each superpixel: means explain everything
    assert one["ev"] == pytest.approx(1.0)


def test_score_errors():
    with pytest.raises(ValueError, match="non-empty"):
        M.score(SP3, [])
    with pytest.raises(ValueError, match=r"ground_truths\[1\] has shape"):
        M.score(SP3, [GT_HALVES, GT_HALVES[:5]])
    with pytest.raises(ValueError, match=r"ground_truths\[0\] must have an integer"):
        M.score(SP3, [GT_HALVES.astype(float)])


pairs = st.tuples(st.integers(1, 8), st.integers(1, 8)).flatmap(
    lambda shape: st.tuples(
        arrays(np.int64, shape, elements=st.integers(0, 4)),
        arrays(np.int64, shape, elements=st.integers(0, 3)),
    )
)


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(0, 2))
def test_score_agrees_with_single_metrics_and_ranges(pair, r):
    sp, gt = pair
    s = M.score(sp, [gt], r=r)
    assert s["asa_best"] == pytest.approx(M.asa(sp, gt))
    assert s["ue_best"] == pytest.approx(M.undersegmentation_error(sp, gt))
    assert s["br_best"] == pytest.approx(M.boundary_recall(sp, gt, r))
    assert s["bp_best"] == pytest.approx(M.boundary_precision(sp, gt, r))
    assert 0 < s["asa_best"] <= 1 and 0 <= s["ue_best"] <= 1
    assert 0 < s["co"] <= math.pi / 4 + 1e-12
    # a larger window can only find more matches
    assert M.boundary_recall(sp, gt, r + 1) >= s["br_best"]
    assert M.boundary_precision(sp, gt, r + 1) >= s["bp_best"]


def test_score_ignores_an_unknown_label_by_hand():
    """SBD's 0 = unknown: its pixels count in no region metric, a ground-truth boundary
    needs known labels on both sides, and only superpixel boundary pixels on known pixels
    are judged. 4x4 superpixels over a 3x4 image whose last row is unknown."""
    from lnsnet.eval.metrics import score

    sp = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]])
    gt = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0]])
    s = score(sp, [gt], ignore=0)
    # known boundary: (0,1), (1,1); claimed between two known pixels: the right steps at
    # (0,1), (1,1); the down steps into the unknown row cannot be judged
    assert (s["asa_best"], s["ue_best"], s["br_best"], s["bp_best"]) == (1.0, 0.0, 1.0, 1.0)
    # a down step between known rows: claims (0,0)..(0,3) and (1,1); (0,3) lies farther
    # than r=1 from the true boundary (column 1)
    sp3 = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]])
    assert score(sp3, [gt], ignore=0)["bp_best"] == 4 / 5
    # a superpixel straddling two known segments and the unknown row: ASA over the 8 known
    # pixels only, and its size counts its known pixels only (UE)
    sp2 = np.array([[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]])
    s2 = score(sp2, [gt], ignore=0)
    assert s2["asa_best"] == 6 / 8  # segment 0: max(4 in gt 1, 2 in gt 2) + segment 1: 2
    # UE: segment 0 (6 known pixels) against gt 1: min(4, 6 - 4), against gt 2: min(2, 6 - 2)
    assert s2["ue_best"] == 4 / 8
    with pytest.raises(ValueError, match="ignored label"):
        score(sp, [np.zeros((3, 4), int)], ignore=0)


def test_an_annotation_without_boundaries_is_not_the_best_recall():
    """BR of a one-region annotation is 1 (nothing to miss); beside an annotation with
    boundaries it is left out of BR and F, best and mean; alone it keeps the convention."""
    from lnsnet.eval.metrics import score

    sp = np.array([[0, 0, 1, 1]] * 4)  # boundary pixels (0..3, 1)
    across = np.array([[0] * 4, [0] * 4, [1] * 4, [1] * 4])  # (1, 0..3): at r=0 one hit in 4
    one = np.zeros((4, 4), int)
    s = score(sp, [across, one], r=0)
    assert (s["br_best"], s["br_mean"]) == (0.25, 0.25)
    assert s["f1_best"] == pytest.approx(2 * 0.25 * 0.25 / 0.5)  # BP 1/4 too
    s = score(sp, [across, sp, one], r=0)
    assert (s["br_best"], s["br_mean"]) == (1.0, 0.625)
    assert score(sp, [one])["br_best"] == 1.0
