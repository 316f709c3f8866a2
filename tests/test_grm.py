import torch

from lnsnet import checkpoint
from lnsnet.losses import reconstruction_loss
from lnsnet.model import LNSNet, ModelConfig
from lnsnet.model.grm import gal, gal_scale, gbl, gbl_scale, reconstruction_strength, update_memory


def test_reconstruction_strength_by_hand():
    # W^r rows: 3 colour outputs, 2 position outputs; columns: feature channels
    w = torch.tensor([[1.0, -1.0], [2.0, 0.0], [3.0, 1.0], [4.0, 2.0], [6.0, -2.0]])
    # channel 0: mean(1,2,3) * mean(4,6) = 2 * 5 = 10; channel 1: mean(1,0,1) * mean(2,2) = 4/3
    assert torch.allclose(reconstruction_strength(w), torch.tensor([10.0, 4.0 / 3.0]))
    assert torch.allclose(reconstruction_strength(w[:, :, None, None]), torch.tensor([10.0, 4.0 / 3.0]))


def test_gal_is_identity_forward_and_rescales_backward():
    x = torch.tensor([[[[2.0]], [[5.0]]]], requires_grad=True)  # (1, 2, 1, 1)
    g = torch.tensor([1.0, 1.0])
    m = torch.tensor([1.0, 3.0])
    y = gal(x, g, m)
    assert torch.equal(y, x.detach())
    (y[0, :, 0, 0] * torch.tensor([3.0, 4.0])).sum().backward()
    # psi = g / (g + m) = [1/2, 1/4]; dL/dy = [3, 4] -> [1.5, 1.0]
    assert torch.allclose(x.grad[0, :, 0, 0], torch.tensor([1.5, 1.0]))
    assert torch.allclose(gal_scale(g, m), torch.tensor([0.5, 0.25]))


def test_gbl_is_identity_forward_and_flips_contour_gradients():
    b = torch.tensor([[[0.1, 0.3, 0.5, 0.9]]])  # (1, 1, 4)
    assert torch.allclose(gbl_scale(b, 0.3), torch.tensor([[[1.0, 1.0, -0.5, -0.9]]]))
    x = torch.ones(1, 2, 1, 4, requires_grad=True)
    y = gbl(x, b, 0.3)
    assert torch.equal(y, x.detach())
    (2.0 * y).sum().backward()
    expected = torch.tensor([2.0, 2.0, -1.0, -1.8])
    assert torch.allclose(x.grad[0, 0, 0], expected) and torch.allclose(x.grad[0, 1, 0], expected)


def test_gbl_attenuate_mode_by_hand():
    b = torch.tensor([[[0.1, 0.3, 0.5, 0.9]]])
    # contour pixels (B > 0.3) get 1 - B instead of -B
    assert torch.allclose(gbl_scale(b, 0.3, "attenuate"), torch.tensor([[[1.0, 1.0, 0.5, 0.1]]]))
    x = torch.ones(1, 1, 1, 4, requires_grad=True)
    (3.0 * gbl(x, b, 0.3, "attenuate")).sum().backward()
    assert torch.allclose(x.grad[0, 0, 0], torch.tensor([3.0, 3.0, 1.5, 0.3]))
    import pytest

    with pytest.raises(ValueError, match="GBL mode"):
        gbl_scale(b, 0.3, "sideways")


def test_gbl_gives_the_gradient_of_eq19():
    """Near contours the position reconstruction acts on the features with weight -B
    (Eq. 19), while the reconstruction head keeps the plain gradient."""
    net = LNSNet(ModelConfig(c_2=1))
    with torch.no_grad():
        net.reconstruction.weight.fill_(1.0)  # W^r: (5, 1)
    z = torch.ones(1, 1, 1, 2, requires_grad=True)  # two pixels, feature 1 each
    b = torch.tensor([[[0.0, 0.8]]])  # pixel 1 lies on a contour
    xr = net.reconstruct(z, position_features=gbl(z, b, 0.3))
    assert torch.equal(xr, net.reconstruct(z))  # identity forward
    loss, _ = reconstruction_loss(xr, torch.zeros(1, 5, 1, 2), phi=1.0)
    loss.backward()
    # dL/dXr: colour 2*1/6 = 1/3 per entry (3 rows), position 2*1/4 = 1/2 per entry (2 rows)
    # pixel 0: 3 * 1/3 + 2 * 1/2 = 2;  pixel 1: 3 * 1/3 + 2 * 1/2 * (-0.8) = 0.2
    assert torch.allclose(z.grad[0, 0, 0], torch.tensor([2.0, 0.2]))
    # head: position rows sum 1/2 * 1 over both pixels = 1 (not reversed); colour rows 2/3
    g = net.reconstruction.weight.grad[:, 0, 0, 0]
    assert torch.allclose(g, torch.tensor([2 / 3, 2 / 3, 2 / 3, 1.0, 1.0]))


def test_memory_update_and_persistence(tmp_path):
    m = torch.tensor([1.0, 2.0])
    update_memory(m, torch.tensor([3.0, 0.0]), 0.5)
    assert torch.allclose(m, torch.tensor([2.0, 1.0]))
    net = LNSNet()
    assert torch.equal(net.memory, torch.ones(20))  # the paper initialises m to ones
    net.memory.copy_(torch.linspace(0, 1, 20))
    checkpoint.save(tmp_path / "m.pt", net)
    back = checkpoint.model_from_payload(checkpoint.load(tmp_path / "m.pt"))
    assert torch.equal(back.memory, torch.linspace(0, 1, 20))
