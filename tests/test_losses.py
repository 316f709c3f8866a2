import math

import torch

from lnsnet.losses import clustering_loss, reconstruction_loss, regular_term, topn_mask, total_loss


def test_topn_mask_by_hand():
    pixel = torch.tensor([[0.0, 0.0]])
    seeds = torch.tensor([[0.0, 1.0], [2.0, 2.0], [0.0, 3.0], [5.0, 0.0]])  # l1: 1, 4, 3, 5
    index = torch.tensor([[0, 1, 2, 3]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    assert topn_mask(pixel, seeds, index, valid, 2).tolist() == [[True, False, True, False]]
    valid[0, 0] = False  # an invalid candidate never enters V_i
    assert topn_mask(pixel, seeds, index, valid, 2).tolist() == [[False, True, True, False]]
    assert topn_mask(pixel, seeds, index, valid, 9).tolist() == [[False, True, True, True]]


def test_clustering_loss_two_pixels_two_seeds():
    # d2 = [0, 1] -> q = [1, 1/2] -> P = [2/3, 1/3] (and the mirror for pixel b)
    d2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    index = torch.tensor([[0, 1], [0, 1]])
    inside = torch.ones(2, 2, dtype=torch.bool)
    loss, parts = clustering_loss(d2, inside, index, 2)
    # f = [1, 1]; Q ∝ P^2 = [4/9, 1/9] -> [0.8, 0.2]
    # KL = 0.8 ln(0.8 / (2/3)) + 0.2 ln(0.2 / (1/3)) for both pixels; no mass outside V_i
    kl = 0.8 * math.log(1.2) + 0.2 * math.log(0.6)
    assert math.isclose(float(parts["kl"]), kl, rel_tol=1e-5)
    assert float(parts["regular"]) == 0.0
    assert math.isclose(float(loss), kl, rel_tol=1e-5)


def test_target_divides_by_cluster_frequency():
    # both pixels prefer seed 0: P = [2/3, 1/3] each; f = [4/3, 2/3]
    d2 = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    index = torch.tensor([[0, 1], [0, 1]])
    inside = torch.ones(2, 2, dtype=torch.bool)
    _, parts = clustering_loss(d2, inside, index, 2)
    # Q ∝ [ (4/9)/(4/3), (1/9)/(2/3) ] = [1/3, 1/6] -> [2/3, 1/3] = P, so KL = 0
    assert abs(float(parts["kl"])) < 1e-6


def test_regular_term_and_renormalised_inside():
    # d2 = [0, 1, 3] -> q = [1, 1/2, 1/4] -> P = [4/7, 2/7, 1/7]; V_i = first two
    d2 = torch.tensor([[0.0, 1.0, 3.0]])
    inside = torch.tensor([[True, True, False]])
    index = torch.tensor([[0, 1, 2]])
    p = torch.tensor([[4 / 7, 2 / 7, 1 / 7]])
    assert math.isclose(float(regular_term(p, inside)), (1 / 7) / (6 / 7), rel_tol=1e-6)
    loss, parts = clustering_loss(d2, inside, index, 3)
    # P~ renormalised over V_i = [2/3, 1/3]; single pixel: f = P~, Q ∝ P~ -> KL = 0
    assert abs(float(parts["kl"])) < 1e-6
    assert math.isclose(float(loss), 1 / 6, rel_tol=1e-5)


def test_gradient_is_finite_with_invalid_candidates():
    d2 = torch.tensor([[0.5, float("inf"), 2.0]], requires_grad=True)
    inside = torch.tensor([[True, False, True]])
    index = torch.tensor([[0, 0, 1]])
    loss, _ = clustering_loss(d2, inside, index, 2)
    loss.backward()
    assert torch.isfinite(d2.grad).all()


def test_reconstruction_and_total_loss_by_hand():
    x = torch.zeros(1, 5, 2, 2)
    xr = x.clone()
    xr[:, :3] += 1.0  # colour error 1 -> MSE 1
    xr[:, 3:] += 2.0  # position error 2 -> MSE 4
    lr, parts = reconstruction_loss(xr, x, phi=0.5)
    assert float(parts["rec_colour"]) == 1.0 and float(parts["rec_position"]) == 4.0
    assert float(lr) == 1.0 + 0.5 * 4.0
    assert float(total_loss(torch.tensor(0.5), lr, beta=10.0)) == 0.5 + 10 * 3.0
