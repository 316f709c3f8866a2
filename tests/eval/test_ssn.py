"""SSN (lnsnet.eval.ssn): the differentiable SLIC against hand-derived values and against
its pixel-by-pixel reference, the task loss on cases with known values, the network's
size, resumable training, and inference with the shipped weights."""

import math

import numpy as np
import pytest
import torch

from lnsnet.eval import ssn as S
from lnsnet.eval.labels import count_disconnected
from reference import soft_slic_reference


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_network_size_and_shapes():
    net = S.SSNNet()
    # conv 5->64 and five 64->64 (3x3, no bias), six BatchNorms (weight + bias), head 197->15 with bias
    expected = 5 * 64 * 9 + 5 * 64 * 64 * 9 + 6 * 2 * 64 + (5 + 3 * 64) * 15 * 9 + 15
    assert sum(p.numel() for p in net.parameters()) == expected == 214_578
    x = torch.randn(2, 5, 13, 22)
    f = net.eval()(x)
    assert f.shape == (2, 20, 13, 22)
    assert torch.equal(f[:, 15:], x)  # the input is part of the features


def test_soft_slic_two_pixels_by_hand():
    # one channel, a 1x2 image, a 1x2 grid: each pixel is a cell. Features 0 and 1.
    f = torch.tensor([[[[0.0, 1.0]]]])
    q, index, cent = S.soft_slic(f, 1, 2, iterations=1)
    # the first centroids are the cell means (0 and 1); pixel 0: distances (0, 1)
    assert index[4].tolist() == [0, 1]
    q_own = _sigmoid(1.0)  # softmax(-0, -1)[0]
    assert q[0, 4].tolist() == pytest.approx([q_own, q_own], abs=1e-6)
    # candidates outside the 1x2 grid get nothing; each pixel's associations sum to 1
    assert torch.allclose(q.sum(1), torch.ones(1, 2))
    # the returned superpixels are those of the final associations:
    # c0 = (q_own * 0 + (1 - q_own) * 1) / 1 = 1 - q_own, c1 = q_own
    c0, c1 = 1 - q_own, q_own
    assert cent.flatten().tolist() == pytest.approx([c0, c1], abs=1e-6)
    # a second iteration associates with those: pixel 0 keeps sigmoid(c1^2 - c0^2)
    q2, _, _ = S.soft_slic(f, 1, 2, iterations=2)
    assert q2[0, 4, 0].item() == pytest.approx(_sigmoid(c1**2 - c0**2), abs=1e-6)


@pytest.mark.parametrize("h, w, rows, cols", [(20, 30, 2, 3), (21, 29, 3, 4), (9, 10, 4, 3), (17, 17, 5, 2)])
def test_soft_slic_matches_reference(h, w, rows, cols):
    torch.manual_seed(0)
    f = torch.randn(2, 4, h, w) * 2
    q, index, cent = S.soft_slic(f, rows, cols, iterations=4)
    q_ref, index_ref, cent_ref = soft_slic_reference(f, rows, cols, iterations=4)
    assert torch.equal(index, index_ref)
    assert torch.allclose(q, q_ref, atol=1e-4)
    assert torch.allclose(cent, cent_ref, atol=1e-4)
    assert torch.allclose(q.sum(1), torch.ones(2, h * w), atol=1e-5)


@pytest.mark.parametrize("h, w", [(321, 481), (481, 321), (200, 200), (686, 1), (17, 900)])
@pytest.mark.parametrize("k", [1, 10, 100, 400, 1000])
def test_ssn_grid_has_no_empty_cell(h, w, k):
    rows, cols = S.ssn_grid(h, w, k)
    ch, cw = S.cell_size(h, w, rows, cols)
    assert 1 <= rows <= h and 1 <= cols <= w
    assert (rows - 1) * ch < h and (cols - 1) * cw < w  # the last row and column hold pixels
    if h * w / k >= 100:  # cells of 10x10 pixels or more: about as close to K as the LNS-Net grid
        from lnsnet.grid import make_grid

        g = make_grid(h, w, k)
        assert abs(math.log(rows * cols / k)) <= abs(math.log(g.rows * g.cols / k)) + 0.05, (rows, cols)


def test_ssn_grid_by_hand():
    # 321 rows: 26 cells of ceil(321/26) = 13 would leave the 26th empty (25 * 13 = 325);
    # 27 x 37 cells of 12 x 13 pixels give 999 for K = 1000
    assert S.ssn_grid(321, 481, 1000) == (27, 37)
    assert S.ssn_grid(200, 200, 100) == (10, 10)


def test_empty_cells_are_never_candidates():
    # 9 rows in 4 cell rows of ceil(9/4) = 3: the last cell row is empty
    f = torch.randn(1, 3, 9, 6)
    q, index, _ = S.soft_slic(f, 4, 2, iterations=3)
    labels = S.hard_labels(q, index, 9, 6)
    assert labels.max().item() < 3 * 2
    assert torch.all(q[:, index >= 6] == 0)


def test_label_reconstruction_loss_values():
    # one superpixel over two pixels with different labels: S = (1/2, 1/2), loss = log 2
    f = torch.zeros(1, 1, 1, 2)
    q, index, _ = S.soft_slic(f, 1, 1, iterations=1)
    loss = S.label_reconstruction_loss(q, index, torch.tensor([[0, 1]]), 1)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    # same labels: perfect reconstruction, loss 0
    loss = S.label_reconstruction_loss(q, index, torch.tensor([[1, 1]]), 1)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # two cells, features far apart (hard associations) matching the labels: loss ~0;
    # labels across the cell boundary cost log 2 per pixel of the mixed superpixels
    f = torch.tensor([[[[0.0, 0.0, 50.0, 50.0]]]])
    q, index, _ = S.soft_slic(f, 1, 2, iterations=3)
    assert S.label_reconstruction_loss(q, index, torch.tensor([[0, 0, 1, 1]]), 2).item() == pytest.approx(0, abs=1e-5)
    mixed = S.label_reconstruction_loss(q, index, torch.tensor([[0, 1, 1, 1]]), 2).item()
    # superpixel 0 holds labels (0, 1): both its pixels reconstruct their label with 1/2
    assert mixed == pytest.approx(2 * math.log(2) / 4, abs=1e-5)


def test_label_numbering_does_not_matter():
    torch.manual_seed(1)
    f = torch.randn(1, 3, 8, 8)
    q, index, _ = S.soft_slic(f, 2, 2, iterations=2)
    labels = torch.randint(0, 3, (1, 64))
    a = S.label_reconstruction_loss(q, index, labels, 4)
    b = S.label_reconstruction_loss(q, index, labels * 7 + 5, 4)
    assert a.item() == pytest.approx(b.item(), abs=1e-6)


def test_compactness_loss_by_hand():
    # a 1x2 image, one superpixel: its position is the mean of the two pixels' positions
    pos = torch.tensor([[[0.0, 0.0], [0.0, 2.0]]])  # (B, 2, N): rows 0, cols 0 and 2
    f = torch.cat([torch.zeros(1, 1, 1, 2), pos.reshape(1, 2, 1, 2)], 1)
    q, index, cent = S.soft_slic(f, 1, 1, iterations=1)
    assert cent[0, -2:, 0].tolist() == pytest.approx([0.0, 1.0])
    # each pixel is 1 from the superpixel's position: half the sum over pixels = (1 + 1) / 2
    assert S.compactness_loss(q, index, cent, pos).item() == pytest.approx(1.0, abs=1e-6)
    # a batch of two: the mean over the batch; the second image's pixels are 2 apart from it
    pos2 = torch.cat([pos, pos * 3])
    f2 = torch.cat([torch.zeros(2, 1, 1, 2), pos2.reshape(2, 2, 1, 2)], 1)
    q2, index2, cent2 = S.soft_slic(f2, 1, 1, iterations=1)
    assert S.compactness_loss(q2, index2, cent2, pos2).item() == pytest.approx((1.0 + 9.0) / 2, abs=1e-5)


def test_compactness_gradient_reaches_the_features():
    torch.manual_seed(0)
    f = torch.randn(2, 5, 12, 12, requires_grad=True)
    q, index, cent = S.soft_slic(f, 3, 3, iterations=3)
    S.compactness_loss(q, index, cent, f[:, 3:].detach().reshape(2, 2, -1)).backward()
    assert f.grad is not None and f.grad.abs().sum() > 0


def test_gradients_flow_to_the_network():
    net = S.SSNNet()
    x = torch.randn(2, 5, 20, 20)
    q, index, cent = S.soft_slic(net(x), 2, 2, iterations=3)
    loss = S.label_reconstruction_loss(q, index, torch.randint(0, 3, (2, 400)), 4)
    loss.backward()
    g = net.stage1[0][0].weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def _toy_data(n=3, size=40, seed=0):
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(n):
        lab = np.zeros((size, size, 3), np.float32)
        gt = np.zeros((size, size), np.int32)
        c = rng.integers(8, size - 8)
        lab[:, c:] = rng.uniform(5, 25, 3)
        gt[:, c:] = 1
        data.append((lab + rng.normal(0, 0.5, lab.shape).astype(np.float32), [gt]))
    return data


def test_training_resumes_exactly(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = _toy_data()
    kw = dict(batch=2, crop=32, n_superpixels=4, iterations=2, progress=False, checkpoint_every=1, device="cpu")
    try:
        a = S.train_ssn(tmp_path / "a.pt", data, steps=4, **kw)
        S.train_ssn(tmp_path / "b.pt", data, steps=2, **kw)
        # resumes at step 2 with the saved random state: the seed given now must not matter
        b = S.train_ssn(tmp_path / "b.pt", data, steps=4, **{**kw, "seed": 123})
        fresh = S.train_ssn(tmp_path / "c.pt", data, steps=4, **{**kw, "seed": 123})
    finally:
        torch.set_num_threads(threads)
    meta = torch.load(tmp_path / "b.pt", weights_only=True)["meta"]
    assert meta["history"] == [{"step": 2, "changed": {"seed": [0, 123]}}]
    wc = torch.load(tmp_path / "c.pt", weights_only=True)["state_dict"]
    assert a["steps"] == b["steps"] == 4
    wa = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    wb = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    for k in wa:
        assert torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6), k
    assert fresh["steps"] == 4
    assert any(not torch.allclose(wa[k].float(), wc[k].float()) for k in wa)  # the seed does matter
    import json

    logged = [json.loads(line)["step"] for line in (tmp_path / "b.pt.jsonl").read_text().splitlines()]
    assert logged == [2, 4]  # every 10 steps and where a run stops


@pytest.mark.parametrize("seed", range(6))
def test_batch_keeps_image_and_labels_aligned(seed):
    # the label of each pixel is a function of its colour: any crop or flip must keep that
    rng = np.random.default_rng(seed)
    h, w = 40, 50
    gt = rng.integers(0, 7, (h, w)).astype(np.int32)
    lab = np.stack([gt * 3.0, gt * -2.0, np.ones_like(gt, dtype=float)], -1).astype(np.float32)
    data = S._to_device([(lab, [gt])], "cpu")
    x, y = S._batch(data, np.random.default_rng(seed), 4, 32, 2, 2)
    assert torch.equal(x[:, 0].reshape(4, -1), y.float() * 3.0)
    # and the position channels are the crop's own grid, unflipped
    assert torch.all(x[:, 3, 1:] > x[:, 3, :-1]) and torch.all(x[:, 4, :, 1:] > x[:, 4, :, :-1])


def test_inference_with_a_model(tmp_path):
    torch.manual_seed(0)
    net = S.SSNNet().eval()
    img = np.zeros((60, 90, 3), np.uint8)
    img[:, 45:] = (200, 30, 30)
    labels = S.ssn(img, 24, model=net, device="cpu")
    assert labels.shape == (60, 90)
    assert count_disconnected(labels) == 0
    assert 10 <= labels.max() + 1 <= 40
    with pytest.raises(ValueError):
        S.ssn(img, 0, model=net)
    with pytest.raises(FileNotFoundError, match="SSN weights not found"):
        S.ssn(img, 10, model=tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"x": 1}, bad)
    with pytest.raises(ValueError, match="not an SSN model"):
        S.ssn(img, 10, model=bad)


def test_shipped_weights_load_and_segment():
    assert S.DEFAULT_WEIGHTS.is_file()
    net = S.load_ssn()
    assert isinstance(net, S.SSNNet) and not net.training
    rng = np.random.default_rng(0)
    img = (rng.uniform(0, 255, (48, 64, 3))).astype(np.uint8)
    labels = S.ssn(img, 12, device="cpu")
    assert count_disconnected(labels) == 0 and labels.min() == 0
