import math

import pytest
import torch

from lnsnet.grid import make_grid

SIZES = [(321, 481), (481, 321), (100, 100), (2, 4000), (4000, 2), (3000, 4000), (50, 1000),
         (1000, 37), (777, 333), (10000, 10000), (64, 65)]


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("k", [50, 100, 200, 400, 1000, 5000])
def test_seed_count_within_five_percent(h, w, k):
    g = make_grid(h, w, k)
    kk = min(k, h * w)
    assert abs(g.n_seeds - kk) / kk <= 0.05, g


def test_cells_are_square_on_bsds_sizes():
    for h, w in [(321, 481), (481, 321)]:
        for k in (100, 400, 1000):
            ch, cw = make_grid(h, w, k).cell_size
            assert abs(math.log(ch / cw)) < 0.15


def test_portrait_is_transpose_of_landscape():
    a, b = make_grid(321, 481, 200), make_grid(481, 321, 200)
    assert (a.rows, a.cols) == (b.cols, b.rows)


def test_k_capped_and_tiny_images():
    assert make_grid(3, 3, 9).n_seeds == 9
    assert make_grid(3, 3, 100).n_seeds == 9
    assert make_grid(1, 1, 1).n_seeds == 1
    g = make_grid(1, 7, 7)
    assert (g.rows, g.cols) == (1, 7)


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_k(bad):
    with pytest.raises(ValueError):
        make_grid(10, 10, bad)


def test_centres_and_pixel_cells_agree():
    g = make_grid(37, 53, 12)
    c = g.centres()
    pr, pc = g.pixel_cells()
    # the pixel nearest to each centre lies in that centre's cell
    for k in range(g.n_seeds):
        r, col = int(round(c[k, 0].item())), int(round(c[k, 1].item()))
        assert pr[r] * g.cols + pc[col] == k
    # cells tile the image: every cell owns at least one pixel, counts are monotone
    assert pr.min() == 0 and pr.max() == g.rows - 1
    assert pc.min() == 0 and pc.max() == g.cols - 1
    assert torch.all(pr[1:] >= pr[:-1]) and torch.all(pc[1:] >= pc[:-1])


def test_candidates_corner_and_centre():
    g = make_grid(30, 30, 9)  # 3x3 cells of 10x10
    assert (g.rows, g.cols) == (3, 3)
    idx, val = g.candidates(3)
    # corner pixel (0, 0): cell (0, 0); only the 2x2 block of cells is inside the grid
    assert int(val[:, 0, 0].sum()) == 4
    assert sorted(idx[:, 0, 0][val[:, 0, 0]].tolist()) == [0, 1, 3, 4]
    # centre pixel: all nine seeds
    assert int(val[:, 15, 15].sum()) == 9
    assert sorted(idx[:, 15, 15].tolist()) == list(range(9))
    # the flat form gives the same table
    pix = torch.tensor([0, 15 * 30 + 15])
    fi, fv = g.pixel_candidates(pix, 3)
    assert torch.equal(fi[0], idx[:, 0, 0]) and torch.equal(fv[1], val[:, 15, 15])
