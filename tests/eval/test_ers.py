"""ERS: the graph, the entropy-rate and balancing gains against their definitions, and the
lazy greedy against a plain greedy on small graphs where every choice can be checked."""

import math

import numpy as np
import pytest

from lnsnet.connectivity import components
from lnsnet.eval.baselines import get_method
from lnsnet.eval.ers import (_balance, _vertex_gain, balancing_gain, edge_weights, entropy_rate,
                             entropy_rate_gain, ers)


@pytest.mark.parametrize("h,w", [(1, 1), (1, 5), (3, 4), (6, 2)])
def test_edge_counts(h, w):
    a4, _, _ = edge_weights(np.zeros((h, w)), 5.0, 4)
    a8, b8, w8 = edge_weights(np.zeros((h, w)), 5.0, 8)
    assert len(a4) == h * (w - 1) + (h - 1) * w
    assert len(a8) == len(a4) + 2 * (h - 1) * (w - 1)
    # every edge joins 8-neighbours, each pair once
    ya, xa, yb, xb = a8 // w, a8 % w, b8 // w, b8 % w
    assert np.all(np.maximum(abs(ya - yb), abs(xa - xb)) == 1)
    assert len(set(zip(np.minimum(a8, b8), np.maximum(a8, b8)))) == len(a8)
    assert np.all(w8 == 1.0)  # flat image: similarity 1


def test_weight_is_the_gaussian_of_the_colour_distance():
    img = np.array([[[0, 0, 0], [3, 4, 0]]], dtype=float)  # distance 5
    _, _, w = edge_weights(img, sigma=5.0, connectivity=4)
    assert w[0] == pytest.approx(math.exp(-25 / 50))


def test_entropy_rate_gain_equals_the_definition():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (3, 4, 3))
    a, b, w = edge_weights(img, sigma=40.0, connectivity=8)
    n = 12
    chosen = np.zeros(len(a), bool)
    for e in rng.permutation(len(a))[:10]:
        before = entropy_rate(n, a, b, w, chosen)
        if not chosen[e]:
            gain = entropy_rate_gain(n, a, b, w, chosen, e)
            chosen[e] = True
            assert entropy_rate(n, a, b, w, chosen) - before == pytest.approx(gain, abs=1e-12)
    assert gain > 0  # adding an edge raises the entropy rate


def test_entropy_rate_by_hand():
    # two vertices, one edge of weight 1: with the edge each vertex has p = 1 (only the
    # edge, self-loop 0), entropy 0; without it each stays put (p_ii = 1), entropy 0.
    # With 3 vertices in a row (weights 1, 1) and only edge 0 chosen: vertex 1 has total
    # weight 2, p(1->0) = 1/2, p(1->1) = 1/2, mu_1 = 2/4 -> H = 0.5 * log 2.
    a, b, w = np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0])
    assert entropy_rate(3, a, b, w, np.array([True, False])) == pytest.approx(0.5 * math.log(2))
    assert entropy_rate(3, a, b, w, np.array([False, False])) == pytest.approx(0.0)


def test_balancing_gain_by_hand():
    # N = 4, merging two singletons: -(1/2) log(1/2) + 2 (1/4) log(1/4) = -0.5 log 2
    assert balancing_gain(1, 1, 4) == pytest.approx(-0.5 * math.log(2))
    assert balancing_gain(2, 2, 4) == pytest.approx(-math.log(2))
    assert _vertex_gain(1.0, 2.0, 2.0) == pytest.approx(2 * math.log(2))  # 0 -> log 2 entropy, times w_i


def _plain_greedy(img, k, lambda_prime=0.5, sigma=5.0, connectivity=8):
    """Recompute every gain at every step, take the best edge joining two components."""
    h, w_ = img.shape[:2]
    n = h * w_
    a, b, w = edge_weights(img, sigma, connectivity)
    lam = lambda_prime * k / n
    comp = list(range(n))
    chosen = np.zeros(len(a), bool)
    while len(set(comp)) > k:
        best, best_e = -np.inf, -1
        sizes = np.bincount(comp, minlength=n)
        for e in range(len(a)):
            if comp[a[e]] == comp[b[e]]:
                continue
            g = entropy_rate_gain(n, a, b, w, chosen, e) + lam * _balance(
                float(sizes[comp[a[e]]]), float(sizes[comp[b[e]]]), float(n))
            if g > best:
                best, best_e = g, e
        chosen[best_e] = True
        old, new = comp[b[best_e]], comp[a[best_e]]
        comp = [new if c == old else c for c in comp]
    return np.array(comp).reshape(h, w_)


def _same_partition(x, y):
    pairs = set(zip(x.ravel().tolist(), y.ravel().tolist()))
    return len(pairs) == len(np.unique(x)) == len(np.unique(y))


@pytest.mark.parametrize("seed,k,conn", [(0, 3, 8), (1, 5, 4), (2, 2, 8), (3, 7, 4)])
def test_lazy_greedy_picks_what_the_plain_greedy_picks(seed, k, conn):
    img = np.random.default_rng(seed).integers(0, 255, (4, 5, 3)).astype(np.uint8)
    fast = ers(img, k, sigma=60.0, connectivity=conn)
    slow = _plain_greedy(img, k, sigma=60.0, connectivity=conn)
    assert _same_partition(fast, slow)


def test_two_flat_halves_give_the_two_halves():
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 15:] = 255
    lab = ers(img, 2)
    assert set(np.unique(lab[:, :15])) == {0} and set(np.unique(lab[:, 15:])) == {1}


@pytest.mark.parametrize("k", [1, 10, 57, 300])
def test_exactly_k_connected_segments(k):
    img = np.random.default_rng(k).integers(0, 255, (30, 40, 3)).astype(np.uint8)
    lab = ers(img, k, connectivity=4)
    assert lab.max() + 1 == k
    assert components(lab)[1] == k  # 4-connected graph -> every segment 4-connected


def test_registered_as_a_benchmark_method():
    img = np.random.default_rng(0).integers(0, 255, (30, 40, 3)).astype(np.uint8)
    lab = get_method("ers")(img, 20)
    assert lab.dtype == np.int32 and lab.max() + 1 >= 20
    assert components(lab)[1] == lab.max() + 1
