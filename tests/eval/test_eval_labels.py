"""Tests of lnsnet.eval.labels: relabelling, 4-connected regions, boundary maps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnsnet.eval.labels import (
    as_label_map,
    boundary_map,
    connected_regions,
    count_disconnected,
    relabel_consecutive,
    split_disconnected,
)


def _flood_fill_regions(a: np.ndarray) -> int:
    """Reference: count 4-connected equal-label regions with a plain BFS."""
    h, w = a.shape
    seen = np.zeros(a.shape, bool)
    n = 0
    for i in range(h):
        for j in range(w):
            if seen[i, j]:
                continue
            n += 1
            stack = [(i, j)]
            seen[i, j] = True
            while stack:
                y, x = stack.pop()
                for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= yy < h and 0 <= xx < w and not seen[yy, xx] \
                            and a[yy, xx] == a[y, x]:
                        seen[yy, xx] = True
                        stack.append((yy, xx))
    return n


small_maps = arrays(
    np.int64,
    st.tuples(st.integers(1, 7), st.integers(1, 7)),
    elements=st.integers(-3, 3),
)


def test_relabel_keeps_sorted_order_of_values():
    # distinct values -2 < 5 < 9 become 0, 1, 2
    out = relabel_consecutive(np.array([[5, 5], [-2, 9]]))
    assert out.dtype == np.int32
    assert out.tolist() == [[1, 1], [0, 2]]


def test_relabel_huge_range_uses_sorting_path_and_agrees():
    # range 2e12 >> 4N: the np.unique path; ranks: -1e12 -> 0, 3 -> 1, 1e12 -> 2
    a = np.array([[10**12, 3], [-(10**12), 3]], dtype=np.int64)
    assert relabel_consecutive(a).tolist() == [[2, 1], [0, 1]]


def test_as_label_map_refuses_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        as_label_map(np.zeros((2, 2, 2), int))
    with pytest.raises(ValueError, match="integer dtype"):
        as_label_map(np.zeros((2, 2), float))
    with pytest.raises(ValueError, match="at least one pixel"):
        as_label_map(np.zeros((0, 3), int))
    assert as_label_map(np.ones((2, 2), bool)).dtype == np.int32


def test_split_disconnected_diagonal_pixels_are_not_connected():
    # [[0,1],[1,0]]: 0s touch only diagonally -> 2 pieces, same for 1s -> 4 labels,
    # numbered in raster order of their first pixel.
    out = split_disconnected(np.array([[0, 1], [1, 0]]))
    assert out.tolist() == [[0, 1], [2, 3]]


def test_split_disconnected_hand_example():
    # label 5 at (0,0),(0,1),(1,1): connected. label 9 at (0,2),(1,2) connected and (1,0)
    # alone -> three regions; raster order of first pixels: (0,0)->0, (0,2)->1, (1,0)->2
    out = split_disconnected(np.array([[5, 5, 9], [9, 5, 9]]))
    assert out.tolist() == [[0, 0, 1], [2, 0, 1]]


def test_count_disconnected_cross_pattern():
    # 0 sits in the four corners (4 pieces), 1 is a plus sign (1 piece) -> 1 label split
    a = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert count_disconnected(a) == 1
    assert count_disconnected(np.zeros((3, 3), int)) == 0


@settings(max_examples=60, deadline=None)
@given(small_maps)
def test_connected_regions_match_flood_fill(a):
    regions, m = connected_regions(a)
    assert m == _flood_fill_regions(a)
    assert regions.dtype == np.int32 and regions.min() == 0 and regions.max() == m - 1
    # every region carries one label, and each label's regions stay within that label
    pairs = set(zip(regions.ravel().tolist(), a.ravel().tolist()))
    assert len(pairs) == m
    # split result: each label connected
    assert count_disconnected(split_disconnected(a)) == 0


def test_boundary_map_right_and_lower_neighbours():
    # a change between columns 1 and 2 marks column 1 only (the left pixel)
    b = boundary_map(np.array([[0, 0, 1], [0, 0, 1]]))
    assert b.astype(int).tolist() == [[0, 1, 0], [0, 1, 0]]
    # all different 3x3: every pixel differs from its right/lower neighbour where one
    # exists; the bottom-right pixel has none -> 8 of 9 pixels
    b = boundary_map(np.arange(9).reshape(3, 3))
    assert b.sum() == 8 and not b[2, 2]
    # one segment: no boundary (the image border is not a boundary)
    assert not boundary_map(np.zeros((4, 4), int)).any()
