import numpy as np

from conftest import is_connected_labels
from lnsnet.connectivity import components, enforce_connectivity, relabel_consecutive


def test_components_split_a_label_in_two_pieces():
    lab = np.array([[0, 1, 0], [0, 1, 0]])
    comp, k = components(lab)
    assert k == 3  # label 0 forms two separate pieces
    assert comp[0, 0] != comp[0, 2] and comp[0, 0] == comp[1, 0]


def test_diagonal_is_not_4_connected():
    lab = np.array([[1, 0], [0, 1]])
    _, k = components(lab)
    assert k == 4


def test_large_pieces_become_separate_labels():
    lab = np.zeros((4, 9), int)
    lab[:, 3:6] = 1  # label 0 split in two 4x3 pieces by label 1
    out = enforce_connectivity(lab, np.zeros((4, 9, 1)), min_size=2)
    assert out.max() + 1 == 3 and is_connected_labels(out)
    assert out.dtype == np.int32


def test_speck_merges_into_most_similar_neighbour():
    lab = np.zeros((6, 6), int)
    lab[:, 3:] = 1
    lab[2, 2] = 2  # one-pixel speck on the left region's border
    feats = np.zeros((6, 6, 1))
    feats[:, 3:] = 10.0
    feats[2, 2] = 9.0  # but it looks like the right region
    out = enforce_connectivity(lab, feats, min_size=3)
    assert out.max() + 1 == 2
    assert out[2, 2] == out[0, 5] and out[2, 2] != out[0, 0]
    # equal features: the tie goes to the smallest region id (the left region, 0)
    out2 = enforce_connectivity(lab, np.zeros((6, 6, 1)), min_size=3)
    assert out2[2, 2] == out2[0, 0]


def test_chains_of_small_pieces_and_random_maps_end_connected():
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 5, (40, 50))  # salt-and-pepper: thousands of tiny pieces
    out = enforce_connectivity(lab, rng.random((40, 50, 3)), n_segments=20)
    sizes = np.bincount(out.ravel())
    assert is_connected_labels(out)
    assert sizes.min() >= int(0.25 * 40 * 50 / 20)
    assert np.array_equal(np.unique(out), np.arange(out.max() + 1))


def test_single_region_and_relabel():
    assert enforce_connectivity(np.full((3, 3), 7), np.zeros((3, 3))).tolist() == [[0] * 3] * 3
    assert relabel_consecutive(np.array([[5, 9], [9, 2]])).tolist() == [[1, 2], [2, 0]]


def test_max_segments_merges_the_smallest_pieces_first():
    # 4 columns of label 0/1 alternating: 8 pieces of sizes 4x1 .. different widths
    lab = np.zeros((4, 10), int)
    widths = [1, 2, 3, 4]  # pieces of 4, 8, 12, 16 pixels, alternating labels
    col = 0
    for i, w in enumerate(widths):
        lab[:, col : col + w] = i % 2
        col += w
    lab[:, col:] = 0  # already touching the last piece -> joins it (same label, adjacent)
    assert components(lab)[1] == 4
    out = enforce_connectivity(lab, np.zeros((4, 10, 1)), min_size=1, max_segments=3)
    # the 4-pixel piece (smallest) is merged; 3 remain
    assert out.max() + 1 == 3
    assert out[0, 0] == out[0, 1]


def test_a_piece_that_has_grown_large_enough_does_not_merge_on():
    # one row: x (1 px, value 0) | y (2 px, value 1) | z (10 px, value 1.5), min_size 3.
    # x's only neighbour is y; y's closest is z (0.25 against 1). Smallest first, x joins
    # y, whose group then has 3 pixels: no longer small, it stays. (Joining every pick at
    # once chained x -> y -> z into one region.)
    lab = np.array([[0, 1, 1] + [2] * 10])
    feats = np.array([0.0, 1, 1] + [1.5] * 10)[None, :, None]
    assert enforce_connectivity(lab, feats, min_size=3).tolist() == [[0, 0, 0] + [1] * 10]
    # with the threshold at 4 the group {x, y} (3 px) is still small and joins z
    assert enforce_connectivity(lab, feats, min_size=4).tolist() == [[0] * 13]


def test_the_cap_stops_at_max_segments_on_a_grating_of_small_pieces():
    # 12 vertical stripes of 2x3 pixels in 2 rows: 24 pieces, all of one size; the cap at
    # 15 merges exactly 9 (joined at once, every stripe would chain to its neighbours)
    lab = np.zeros((4, 36), int)
    lab[:, :] = (np.arange(36) // 3) % 2
    lab[2:] += 2  # the lower half another pair of labels: pieces 3 wide, 2 high
    feats = lab[..., None].astype(float)
    assert components(lab)[1] == 24
    out = enforce_connectivity(lab, feats, min_size=1, max_segments=15)
    assert out.max() + 1 == 15 and is_connected_labels(out)


def test_periodic_patterns_keep_near_k_superpixels():
    # checkerboards and gratings whose pieces are smaller than a superpixel: the
    # connectivity step used to chain them into a few large regions (k = 11 of K = 30 on
    # this 200 x 200 checkerboard of 25 px squares, 48 of 100 on this grating of period 4)
    import lnsnet

    yy, xx = np.mgrid[:200, :200]
    board = (((yy // 25) + (xx // 25)) % 2).astype(np.uint8) * 255
    for k in (30, 40, 50):
        assert lnsnet.segment(board, k).max() >= 0.8 * k, k
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * np.mgrid[:120, :180][1] / 4)
    for kw in ({}, {"model": "none"}):
        assert lnsnet.segment(grating, 100, channel_axis=None, **kw).max() >= 90, kw


def test_torch_connectivity_equals_the_compiled_one():
    # lnsnet.connectivity.enforce_connectivity_torch (the GPU's path, run here on CPU
    # tensors) against enforce_connectivity, label for label: specks, ties, the size cap
    import torch

    from lnsnet.connectivity import enforce_connectivity_torch

    def both(lab, feats, k, max_segments=None):
        want = enforce_connectivity(lab, feats, n_segments=k, max_segments=max_segments)
        got = enforce_connectivity_torch(torch.from_numpy(lab.astype(np.int64)),
                                         torch.from_numpy(np.ascontiguousarray(feats)), k, 0.25, max_segments)
        assert got.dtype == torch.int64 and np.array_equal(got.numpy(), want), (k, max_segments)
        return want

    rng = np.random.default_rng(3)
    for n in (2, 5, 40):
        lab = rng.integers(0, n, (40, 50))
        feats = rng.random((40, 50, 3)).astype(np.float32)
        for k, cap in ((20, None), (20, 22), (200, 150), (5, None)):
            both(lab, feats, k, cap)
        both(lab, np.zeros((40, 50, 3), np.float32), 20)  # all ties: the smallest id wins
    lab = np.zeros((6, 6), int)  # the speck of test_speck_merges_into_most_similar_neighbour
    lab[:, 3:] = 1
    lab[2, 2] = 2
    feats = np.zeros((6, 6, 1), np.float32)
    feats[:, 3:] = 10.0
    feats[2, 2] = 9.0
    out = both(lab, feats, 4)
    assert out[2, 2] == out[0, 5]
    both(np.full((3, 3), 7), np.zeros((3, 3, 1), np.float32), 1)  # one region: nothing to do
    # a batch: each image as on its own (images that finish early, one that needs no round)
    labs = [rng.integers(0, n, (40, 50)) for n in (2, 5, 40)] + [np.zeros((40, 50), int)]
    feats = [rng.random((40, 50, 3)).astype(np.float32) for _ in labs]
    for k, cap in ((20, None), (200, 150)):
        want = [enforce_connectivity(lab, f, n_segments=k, max_segments=cap) for lab, f in zip(labs, feats)]
        got = enforce_connectivity_torch(torch.from_numpy(np.stack(labs).astype(np.int64)),
                                         torch.from_numpy(np.stack(feats)), k, 0.25, cap)
        assert got.shape == (4, 40, 50) and all(np.array_equal(g, w) for g, w in zip(got.numpy(), want)), (k, cap)


def _quadrant_strips():
    # scikit-image's four-quadrant junction after a blur: a 1-pixel strip of label 0 (the
    # 0.33 quadrant) along the top of the border between 1 (0.0) and 3 (1.0), and one of 2
    # (0.67) below it; the unblurred values are the quadrants' own
    sharp = np.zeros((8, 8, 1), np.float32)
    sharp[:4, :4], sharp[4:, :4], sharp[4:, 4:] = 0.33, 0.67, 1.0
    lab = np.zeros((8, 8), np.int32)
    lab[:4, 4:], lab[4:, :4], lab[4:, 4:] = 1, 2, 3
    want = lab.copy()
    lab[3, 4:], lab[4, 4:] = 0, 2  # the strips
    return lab, sharp, want


def test_slivers_of_a_blurred_junction_go_back_to_their_quadrants():
    from lnsnet.connectivity import reassign_slivers

    lab, sharp, want = _quadrant_strips()
    got = reassign_slivers(lab, sharp)
    assert np.array_equal(got, want)
    assert np.array_equal(lab[3, 4:], [0] * 4)  # the input is not changed


def test_slivers_move_only_where_the_unblurred_edge_is_sharp():
    from lnsnet.connectivity import reassign_slivers

    lab, sharp, _ = _quadrant_strips()
    # a soft edge in the image itself: the strips' own values are the mix (0.33 and 0.67)
    soft = sharp.copy()
    soft[3, 4:], soft[4, 4:] = 0.33, 0.67
    assert np.array_equal(reassign_slivers(lab, soft), lab)
    # the margin by hand: label 0's mean over its 20 pixels (16 x 0.33, 4 x 0) is 0.264, a
    # strip pixel (0) is 0.264^2 = 0.0697 from it and 0 from label 1's mean (0): moved at any
    # margin; give the strip value 0.02: 0.0004 from label 1, 0.244^2 = 0.0595 from its own
    # (the mean moves by 0.004): moved at margin 100, not at 200
    near = sharp.copy()
    near[3, 4:] = 0.02
    own = (16 * 0.33 + 4 * 0.02) / 20
    d_own, d_1 = (0.02 - own) ** 2, (0.02 - 0.0) ** 2
    assert 100 * d_1 < d_own < 200 * d_1
    assert np.array_equal(reassign_slivers(lab, near, margin=100)[3, 4:], [1] * 4)
    assert np.array_equal(reassign_slivers(lab, near, margin=200)[3, 4:], [0] * 4)


def test_slivers_need_two_other_labels_across_them_and_leave_the_mask_alone():
    from lnsnet.connectivity import reassign_slivers

    sharp = np.zeros((5, 5, 3), np.float32)
    lab = np.zeros((5, 5), np.int32)
    lab[2] = 1  # a 1-pixel line of label 1 through label 0: the same label on both sides
    sharp[2] = 0.0  # and its unblurred value that of label 0
    sharp[0], sharp[1], sharp[3], sharp[4] = 0.0, 0.0, 0.0, 0.0
    sharp[2, :, 0] = 0.1
    assert np.array_equal(reassign_slivers(lab, sharp), lab)
    lab[3] = -1  # below: outside a mask
    lab[4] = 2
    assert np.array_equal(reassign_slivers(lab, sharp), lab)


def test_torch_slivers_equal_the_compiled_ones():
    import torch

    from lnsnet.connectivity import reassign_slivers, reassign_slivers_torch

    rng = np.random.default_rng(0)
    for shape, k, c, margin in (((9, 13), 5, 3, 1.0), ((20, 7), 3, 1, 4.0), ((16, 16), 9, 2, 256.0)):
        labs = rng.integers(0, k, (3, *shape))
        imgs = rng.random((3, *shape, c)).astype(np.float32)
        want = np.stack([reassign_slivers(lab, img, margin) for lab, img in zip(labs, imgs)])
        got = reassign_slivers_torch(torch.from_numpy(labs), torch.from_numpy(imgs), margin).numpy()
        assert np.array_equal(got, want)
        if margin == 1.0:
            assert (got != labs).any()  # random labels have slivers to move
