"""RIM (lnsnet.eval.rim): its loss terms against hand-derived values, the network's
shape and size, and one short optimisation on an image with two flat regions."""

import math

import numpy as np
import pytest
import torch

from lnsnet.eval.rim import RIMNet, mutual_information_loss, rim, rim_input, smoothness_loss


@pytest.mark.parametrize("k, lam", [(2, 2.0), (5, 2.0), (7, 0.5)])
def test_mutual_information_of_uniform_predictions(k, lam):
    # p = 1/K everywhere: pixel entropy log K, marginal entropy log K
    logits = torch.zeros(1, k, 4, 6)
    assert mutual_information_loss(logits, lam).item() == pytest.approx((1 - lam) * math.log(k), abs=1e-6)


def test_mutual_information_of_confident_balanced_predictions():
    # half the pixels sure of label 0, half of label 1: pixel entropy ~0, marginal log 2
    logits = torch.full((1, 2, 2, 2), -50.0)
    logits[0, 0, 0, :] = 50.0
    logits[0, 1, 1, :] = 50.0
    assert mutual_information_loss(logits, 2.0).item() == pytest.approx(-2.0 * math.log(2), abs=1e-6)


def test_mutual_information_of_confident_collapsed_predictions():
    # every pixel sure of label 0: both entropies 0
    logits = torch.full((1, 3, 2, 2), -50.0)
    logits[0, 0] = 50.0
    assert mutual_information_loss(logits, 2.0).item() == pytest.approx(0.0, abs=1e-6)


def test_smoothness_values():
    x = torch.zeros(1, 5, 1, 2)
    same = torch.zeros(1, 2, 1, 2)
    assert smoothness_loss(same, x).item() == pytest.approx(0.0, abs=1e-7)
    # two pixels sure of different labels: |p_i - p_j|_1 = 2, equal inputs: weight 1;
    # one row, so there is no vertical pair
    diff = torch.tensor([[[[50.0, -50.0]], [[-50.0, 50.0]]]])
    assert smoothness_loss(diff, x).item() == pytest.approx(2.0, abs=1e-6)
    # an input step of sqrt(8) in one channel: weight exp(-1)
    x[0, 0, 0, 1] = math.sqrt(8.0)
    assert smoothness_loss(diff, x).item() == pytest.approx(2.0 * math.exp(-1.0), abs=1e-6)
    # the same along columns (vertical pairs)
    assert smoothness_loss(diff.transpose(2, 3), x.transpose(2, 3)).item() == pytest.approx(2.0 * math.exp(-1.0), abs=1e-6)


def test_network_shapes_and_size():
    k = 100
    net = RIMNet(k)
    logits, rec = net(torch.zeros(1, 5, 9, 11))
    assert logits.shape == (1, k, 9, 11) and rec.shape == (1, 3, 9, 11)
    convs = 5 * 32 * 9 + 32 * 64 * 9 + 64 * 128 * 9 + 128 * 256 * 9 + 256 * (k + 3) + (k + 3)
    norms = 2 * (32 + 64 + 128 + 256) + 2 * k
    assert sum(p.numel() for p in net.parameters()) == convs + norms


def test_input_standardised():
    rgb = np.random.default_rng(0).random((6, 8, 3))
    x = rim_input(rgb)[0].numpy()
    assert x.shape == (5, 6, 8)
    np.testing.assert_allclose(x.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(1, 2)), 1, atol=1e-4)


def test_rim_separates_two_flat_regions():
    rng = np.random.default_rng(1)
    img = np.zeros((24, 32, 3))
    img[:, :, 0] = 0.9
    img[:, 16:] = [0.1, 0.2, 0.9]
    img = np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1)
    labels = rim(img, 4, iterations=40, seed=0)
    assert labels.shape == (24, 32)
    # no segment straddles the colour edge
    for s in np.unique(labels):
        cols = np.nonzero(labels == s)[1]
        assert cols.max() < 16 or cols.min() >= 16
    assert 2 <= len(np.unique(labels)) <= 8
