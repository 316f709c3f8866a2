import torch

from lnsnet.grid import make_grid
from lnsnet.cluster.layer import assign, dense_labels, local_distances, soft_assignment, student_t


def test_student_t_hand_values():
    d2 = torch.tensor([0.0, 1.0, 3.0, float("inf")])
    assert torch.allclose(student_t(d2), torch.tensor([1.0, 0.5, 0.25, 0.0]))
    # alpha = 3: (1 + 3/3) ** -2 = 0.25
    assert torch.isclose(student_t(torch.tensor(3.0), alpha=3.0), torch.tensor(0.25))
    p = soft_assignment(torch.tensor([[1.0, 3.0]]), dim=1)
    assert torch.allclose(p, torch.tensor([[2 / 3, 1 / 3]]))


def _position_features(g):
    ys, xs = torch.meshgrid(torch.arange(g.height).float(), torch.arange(g.width).float(), indexing="ij")
    z = torch.stack([ys, xs])  # features = position: the nearest seed is the nearest centre
    return z, g.centres()


def test_local_and_dense_agree_with_positional_features():
    g = make_grid(30, 40, 12)
    z, seeds = _position_features(g)
    local = assign(z, seeds, g, "local")
    dense = assign(z, seeds, g, "dense")
    assert torch.equal(local, dense)
    # and each pixel lands in its own cell
    pr, pc = g.pixel_cells()
    assert torch.equal(local, pr[:, None] * g.cols + pc[None, :])


def test_local_only_sees_neighbouring_cells():
    g = make_grid(30, 30, 9)  # 3x3 cells
    z = torch.zeros(1, 30, 30)
    seeds = torch.full((9, 1), 5.0)
    seeds[8, 0] = 0.0  # bottom-right seed matches every pixel exactly
    dense = dense_labels(z, seeds)
    assert torch.all(dense == 8)
    local = assign(z, seeds, g, "local")
    # the top-left cell cannot reach seed 8 (two cells away): it picks among its neighbours
    assert local[0, 0] != 8 and local[29, 29] == 8 and local[15, 15] == 8
    d2 = local_distances(z, seeds, g, 3)
    assert d2.shape == (9, 30, 30)
    assert torch.isinf(d2[0, 0, 0])  # candidate (-1, -1) of the corner pixel is outside


def test_compactness_term_pulls_towards_the_nearer_seed():
    g = make_grid(10, 20, 2)  # two cells side by side
    z = torch.zeros(1, 10, 20)
    seeds = torch.tensor([[1.0], [0.0]])  # seed 1 matches features exactly
    pos = g.centres()
    assert torch.all(assign(z, seeds, g, "local") == 1)
    lab = assign(z, seeds, g, "local", pos, compactness=10.0)
    assert lab[5, 0] == 0 and lab[5, 19] == 1
    assert torch.equal(lab, assign(z, seeds, g, "dense", pos, compactness=10.0))


def test_streaming_local_labels_equal_argmin_of_local_distances():
    from lnsnet.cluster.layer import local_labels

    gen = torch.Generator().manual_seed(0)
    for h, w, k in [(30, 40, 12), (50, 17, 20), (5, 5, 25), (1, 9, 3)]:
        g = make_grid(h, w, k)
        z = torch.randn(4, h, w, generator=gen)
        feats = torch.randn(g.n_seeds, 4, generator=gen)
        pos = g.centres() + torch.rand(g.n_seeds, 2, generator=gen)
        pr, pc = g.pixel_cells()
        for comp in (0.0, 0.7):
            m = local_distances(z, feats, g, 3, pos, comp).argmin(0)
            ref = (pr[:, None] + m // 3 - 1) * g.cols + (pc[None, :] + m % 3 - 1)
            assert torch.equal(local_labels(z, feats, g, 3, pos, comp), ref), (h, w, k, comp)
