import torch

from lnsnet.grid import make_grid
from lnsnet.losses import clustering_loss, topn_mask
from lnsnet.model import LNSNet, ModelConfig
from lnsnet.model.seeds import sample_features


def test_parameter_count_matches_hand_count():
    m = LNSNet()
    # FEM: 3 ASPP branches 5->10 (3x3): 3*(5*9*10+10) = 1380; InstanceNorm(35) affine: 70;
    # conv 35->10: 35*9*10+10 = 3160; IN(10): 20; conv 15->20: 15*9*20+20 = 2720; IN(20): 40
    fem = 1380 + 70 + 3160 + 20 + 2720 + 40
    # SEL: conv 20->20 (3x3): 3620; conv 20->2 (1x1): 42.  Reconstruction 20->5, no bias: 100
    assert sum(p.numel() for p in m.embedder.parameters()) == fem == 7390
    assert sum(p.numel() for p in m.seed_layer.parameters()) == 3662
    # contour head (width 12): conv 3->12 (3x3): 336; three convs 12->12 (3x3): 3*1308 = 3924;
    # 1x1 36->1: 37
    assert sum(p.numel() for p in m.contour_head.parameters()) == 336 + 3924 + 37 == 4297
    assert sum(p.numel() for p in m.parameters()) == fem + 3662 + 100 + 4297


def test_shapes_and_seeds_stay_in_their_cells():
    m = LNSNet(generator=torch.Generator().manual_seed(0))
    x = torch.randn(1, 5, 33, 47)
    g = make_grid(33, 47, 12)
    z, pos, feats = m(x, g)
    assert z.shape == (1, 20, 33, 47)
    assert pos.shape == (1, g.n_seeds, 2) and feats.shape == (1, g.n_seeds, 20)
    ch, cw = g.cell_size
    c = g.centres()[None]
    assert torch.all((pos - c).abs()[..., 0] <= ch / 2 + 1e-5)
    assert torch.all((pos - c).abs()[..., 1] <= cw / 2 + 1e-5)


def test_tiny_and_thin_images_go_through():
    m = LNSNet().eval()
    for h, w in [(1, 1), (1, 9), (2, 40), (3, 3)]:
        with torch.no_grad():
            z = m.embed(torch.randn(1, 5, h, w))
        assert z.shape == (1, 20, h, w) and torch.isfinite(z).all()


def test_bilinear_seed_features_values_and_gradients():
    # z(r, c) = 10 r + c is linear, so bilinear sampling is exact
    h, w = 5, 6
    z = (10 * torch.arange(h)[:, None] + torch.arange(w)[None, :]).float()[None, None]
    pos = torch.tensor([[[1.5, 2.25], [0.0, 0.0], [4.0, 5.0]]], requires_grad=True)
    s = sample_features(z, pos)
    assert torch.allclose(s[0, :, 0], torch.tensor([17.25, 0.0, 45.0]))
    s[0, 0, 0].backward()
    assert torch.allclose(pos.grad[0, 0], torch.tensor([10.0, 1.0]))


def test_gradients_reach_every_seed_layer_parameter():
    """A loss on the assignment trains the SEL (the official release's SEL never learns)."""
    torch.manual_seed(0)
    m = LNSNet(generator=torch.Generator().manual_seed(1))
    x = torch.randn(1, 5, 40, 60)
    g = make_grid(40, 60, 24)
    with torch.no_grad():
        z = m.embed(x)
    pos = m.seed_positions(z, g)
    seeds = m.seed_features(z, pos)[0]
    pix = torch.arange(40 * 60)
    index, valid = g.pixel_candidates(pix, 5)
    zf = z[0].reshape(20, -1).t()
    d2 = ((zf[:, None, :] - seeds[index]) ** 2).sum(-1)
    d2 = torch.where(valid, d2, torch.full_like(d2, float("inf")))
    inside = topn_mask(torch.stack([pix // 60, pix % 60], 1), pos[0], index, valid, 9)
    loss, _ = clustering_loss(d2, inside, index, g.n_seeds)
    loss.backward()
    for name, p in m.seed_layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # and none reached the (frozen here) embedder
    assert all(p.grad is None for p in m.embedder.parameters())


def test_config_roundtrip():
    c = ModelConfig(dilations=(1, 1, 2))
    assert ModelConfig.from_dict(c.to_dict()) == c
