import numpy as np

from lnsnet.features import canny_contours, encode, sobel_contours
from reference import lab_position, standardise


def test_encode_is_standardised_and_isotropic():
    rng = np.random.default_rng(0)
    rgb = rng.random((30, 50, 3)).astype(np.float32)
    x = encode(rgb)
    assert x.shape == (1, 5, 30, 50)
    x = x[0].numpy()
    assert np.allclose(x[:3].mean(axis=(1, 2)), 0, atol=1e-5)
    assert np.allclose(x[:3].std(axis=(1, 2)), 1, atol=1e-4)
    # one pixel step has the same length along rows and columns
    drow = x[3, 1, 0] - x[3, 0, 0]
    dcol = x[4, 0, 1] - x[4, 0, 0]
    assert np.isclose(drow, dcol, rtol=1e-5) and drow > 0
    # the two position channels share one scale: mean square over both is 1
    assert np.isclose((x[3:5] ** 2).mean(), 1.0, atol=1e-4)


def test_flat_channel_does_not_divide_by_zero():
    rgb = np.full((5, 6, 3), 0.5, np.float32)
    x = standardise(lab_position(rgb))
    assert np.all(np.isfinite(x)) and np.allclose(x[:3], 0, atol=1e-5)


def test_sobel_peaks_on_the_edge():
    rgb = np.zeros((20, 20, 3), np.float32)
    rgb[:, 10:] = 1.0
    b = sobel_contours(rgb)
    assert b.shape == (20, 20) and b.max() == 1.0 and b.min() == 0.0
    assert np.all(b[:, 9:11] == 1.0)  # the two columns beside the step
    assert np.all(b[:, :8] == 0) and np.all(b[:, 12:] == 0)
    c = canny_contours(rgb)
    assert c[:, 9:11].any() and not c[:, :7].any()


def test_colour_scale_by_hand():
    from lnsnet.features import colour_scale_of

    # sds (2, 1, 1): mean square 2, so the factors are s / sqrt(2)
    np.testing.assert_allclose(colour_scale_of([2.0, 1.0, 1.0]), [2 ** 0.5, 2 ** -0.5, 2 ** -0.5], rtol=1e-6)
    # one channel varies (a gray image's lightness): it carries the whole variance, 3
    np.testing.assert_allclose(colour_scale_of([5.0, 0.0, 0.0]), [3 ** 0.5, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(colour_scale_of([0.0, 0.0, 0.0]), [0, 0, 0])  # flat: nothing to scale


def test_encode_image_colour_scale_keeps_the_cielab_proportions():
    from skimage.color import rgb2lab

    from lnsnet.features import encode_channels, encode_image

    rng = np.random.default_rng(1)
    rgb = (rng.random((20, 30, 3)) * [0.3, 0.9, 0.5]).astype(np.float32)
    x, scale = encode_image(rgb, colour_scale=True)
    np.testing.assert_array_equal(x, encode_image(rgb))  # the network's input is unchanged
    sd = rgb2lab(rgb).reshape(-1, 3).std(0)
    np.testing.assert_allclose(scale, sd / np.sqrt((sd ** 2).mean()), rtol=1e-3)
    # the clustering's colour: total variance 3, for a colour and for a gray image alike
    for image in (rgb, np.repeat(rgb[:, :, 1:2], 3, axis=2)):
        x, scale = encode_image(image, colour_scale=True)
        colour = x[:3] * scale[:, None, None]
        assert np.isclose((colour ** 2).sum(0).mean(), 3.0, rtol=1e-3)
    # a gray image has no chroma: a and b (rounding of the conversion, about 1e-4 of L's
    # spread) are flat, in the network's input and in the clustering's colour
    x, gray_scale = encode_image(np.repeat(rgb[:, :, 1:2], 3, axis=2), colour_scale=True)
    np.testing.assert_array_equal(gray_scale, np.float32([3 ** 0.5, 0, 0]))
    assert not x[1:3].any()
    # channels in their own units: each given channel the same share, none for missing ones
    for c, want in ((1, [3 ** 0.5, 0, 0]), (2, [1.5 ** 0.5, 1.5 ** 0.5, 0])):
        np.testing.assert_allclose(encode_channels(rgb[:, :, :c], colour_scale=True)[1], want, rtol=1e-6)
    # more than three: the principal components' proportions (largest first), total 3
    four = np.concatenate([rgb, rgb[:, :, :1] * 2 + rgb[:, :, 1:2]], axis=2)
    s = encode_channels(four, colour_scale=True)[1]
    assert s[0] >= s[1] >= s[2] >= 0 and np.isclose((s ** 2).sum(), 3.0, rtol=1e-5)


def test_invisible_chroma_noise_does_not_make_superpixels_ragged():
    """A lightness step with chroma noise of +-2/255: the clustering's colour keeps CIELAB's
    proportions, so the noise stays as small as it is; standardised per channel (the
    clustering's colour before 2026-12-03) it weighed as much as the step and gave ragged
    superpixels (CO 0.17 instead of 0.59, ASA 0.997)."""
    import lnsnet
    from lnsnet.eval.metrics import score

    rng = np.random.default_rng(0)
    h, w = 96, 128
    yy, xx = np.mgrid[:h, :w]
    inside = xx > w / 2 + 12 * np.sin(yy / 9.0)
    rgb = np.repeat(np.where(inside[:, :, None], 0.65, 0.35), 3, axis=2).astype(np.float32)
    noise = rng.integers(-2, 3, (h, w)).astype(np.float32) / 255
    rgb[..., 0] += noise
    rgb[..., 2] -= noise
    s = score(lnsnet.segment(rgb, 24, clustering="compact:blur=0"), [inside.astype(int)])
    assert s["asa_best"] == 1.0 and s["co"] > 0.45, s
    # the default's 0.8 px blur softens the perfectly sharp step: without the contour head a
    # few pixels of its curve (9 of 12,288) change sides, the shapes stay compact
    s = score(lnsnet.segment(rgb, 24, clustering="compact:contour=0"), [inside.astype(int)])
    assert s["asa_best"] >= 0.999 and s["co"] > 0.45, s
    # with the head (the default since 2026-12-04), and with "fast": 0.992 and 0.973 until
    # 2026-12-05, when the connectivity's merges compared the standardised CIELAB, where this
    # chroma noise weighs as much as the step (docs/learning.md, "The connectivity's merges,
    # not the blur, break the noisy step"); each channel weighed by its share of structure
    # (prepare.merge_colour): 0.9993 and 0.9989
    for clustering in ("compact", "fast"):
        s = score(lnsnet.segment(rgb, 24, clustering=clustering), [inside.astype(int)])
        assert s["asa_best"] >= 0.998 and s["co"] > 0.45, (clustering, s)


def test_merge_colour_weighs_each_channel_by_its_share_of_structure():
    import torch

    from lnsnet.prepare import merge_colour

    yy, xx = np.mgrid[:16, :24]
    blocks = np.where((yy // 8 + xx // 8) % 2 == 0, 1.0, -1.0)  # 8x8 blocks: all structure
    pixels = np.where((yy + xx) % 2 == 0, 1.0, -1.0)  # pixel checkerboard: block means 0
    x = np.zeros((1, 5, 16, 24), np.float32)
    x[0, 0] = blocks
    x[0, 1] = pixels
    x[0, 2] = 3 * blocks + 4 * pixels  # variance 9 + 16, of which 9 in the blocks: weight 3/5
    x[0, 3:] = 7.0  # positions: not read
    got = merge_colour(torch.from_numpy(x)).numpy()
    assert got.shape == (1, 3, 16, 24)
    np.testing.assert_allclose(got[0, 0], blocks, rtol=1e-6)
    np.testing.assert_array_equal(got[0, 1], 0.0)
    np.testing.assert_allclose(got[0, 2], 0.6 * x[0, 2], rtol=1e-6)
    flat = np.zeros((1, 5, 16, 24), np.float32)  # a flat channel stays 0
    assert not merge_colour(torch.from_numpy(flat)).numpy().any()
    small = torch.from_numpy(np.random.default_rng(0).random((2, 5, 7, 30), dtype=np.float32))
    torch.testing.assert_close(merge_colour(small), small[:, :3])  # below one block: as it is


def test_a_dim_image_keeps_its_contrast_and_a_constant_one_is_flat():
    """A float image in [0, 1e-5] (or a 0/1 mask saved as uint16) was flat to the encoding
    (an absolute floor of 1e-3 CIELAB units): its superpixels were the blank image's grid.
    The floor is relative now: the dim copy is encoded as the brighter one (CIELAB is linear
    for dark values: the same standardised channels), and a constant image stays flat
    whatever its level (its float32 sums' rounding is not contrast)."""
    import lnsnet
    from lnsnet.features import encode_image

    rng = np.random.default_rng(0)
    img = rng.random((40, 60, 3)).astype(np.float32)
    dim, dimmer = encode_image(img * 1e-3), encode_image(img * 1e-5)
    assert np.allclose(dim[:3], dimmer[:3], atol=2e-2) and np.allclose(dim[:3].std((1, 2)), 1, atol=1e-3)
    for level in (0.0, 1e-5, 0.3, 0.5, 0.99, 1.0):
        x, scale = encode_image(np.full((40, 60, 3), level, np.float32), colour_scale=True)
        assert np.allclose(x[:3], 0) and (scale == 0).all()  # flat: no colour at all (0.3: L's 0.005 was one)
    grid = lnsnet.segment(np.zeros((90, 160)), 40)
    step = np.zeros((90, 160), np.float32)
    step[:, 70:] = 1e-5  # a dim step at x = 70, off the grid's cell borders
    lab = lnsnet.segment(step, 40)
    assert not np.array_equal(lab, grid)
    assert not set(np.unique(lab[:, :70])) & set(np.unique(lab[:, 70:]))
    mask = np.zeros((90, 160), np.uint16)
    mask[:, 70:] = 1  # a 0/1 mask saved as uint16: 1 / 65535
    lab = lnsnet.segment(mask, 40)
    assert not set(np.unique(lab[:, :70])) & set(np.unique(lab[:, 70:]))
    # bright and of low contrast: a disk 5 counts above 32768 in 16 bits, gray and as RGB
    yy, xx = np.mgrid[:200, :300]
    disk = (yy - 100) ** 2 + (xx - 150) ** 2 < 2500
    for im in ((32768 + 5 * disk).astype(np.uint16), np.repeat((32768 + 5 * disk).astype(np.uint16)[..., None], 3, 2)):
        lab = lnsnet.segment(im, 100)
        assert not set(np.unique(lab[disk])) & set(np.unique(lab[~disk]))


def test_tiny_values_keep_their_edges_on_every_path():
    """Values far below 1 in units of their own: a step of float32 values near 1e-8 (or
    1e-20, 1e-30) was lost to float32's rounding of ``116 f - 16`` (CIELAB, ``f`` near 4/29)
    on gray and colour images, and to absolute floors (sd 1e-12) for other channel counts
    and volumes: superpixels crossed it. Each path keeps it now, at any scale."""
    import lnsnet
    from lnsnet.features import encode_image
    from lnsnet.prepare import DARK, lift_dark

    rng = np.random.default_rng(0)
    step = np.zeros((60, 80), np.float32)
    step[:, 37:] = 1  # off the seed grid's cell borders
    noise = rng.random((60, 80)).astype(np.float32)

    def crossing(labels, truth):
        return sum(len(np.unique(truth[labels == i])) > 1 for i in np.unique(labels))

    for scale in (1e-8, 1e-20, 1e-30):
        gray = ((step * 0.5 + 0.25) + 0.01 * noise) * np.float32(scale)
        for im in (gray, np.stack([gray, gray * 0.5, gray * 0.2], -1), np.stack([gray, gray * 0.5], -1)):
            assert crossing(lnsnet.segment(im, 20), step) == 0, (scale, im.shape)
    vol = np.zeros((16, 30, 40), np.float32)
    vol[:, :, 19:] = 1
    for scale in (1e-8, 1e-20, 1e-30):
        v = ((vol * 0.5 + 0.25) + 0.01 * rng.random(vol.shape).astype(np.float32)) * np.float32(scale)
        assert crossing(lnsnet.segment(v, 40, channel_axis=None), vol) == 0, scale
    # the lift's premise, by hand: below sRGB's linear limit CIELAB is linear in the values, so a
    # dark image and its lifted copy have the same standardised encoding
    dark = rng.random((30, 40, 3)).astype(np.float32) * np.float32(0.02)
    lifted = lift_dark(dark)
    assert np.isclose(lifted.max(), DARK) and np.allclose(lifted, dark * (DARK / dark.max()), rtol=1e-6)
    assert np.allclose(encode_image(dark), encode_image(lifted), atol=1e-4)
    bright = np.full((4, 4, 3), 0.5, np.float32)
    assert lift_dark(bright) is bright and lift_dark(np.zeros((4, 4, 3), np.float32)).max() == 0


def test_a_piecewise_flat_image_is_not_blurred():
    """The presets' 0.8 px blur is for noise; on a noise-free image of flat regions it only
    widens the edges into ramps (on flat synthetic scenes it tripled the superpixels that cross
    a border). Such an image, told by its share of exactly equal 4-neighbour pairs, is
    segmented without it; a photo-like image keeps it."""
    import lnsnet
    from lnsnet.prepare import FLAT_PAIRS, piecewise_flat

    step = np.zeros((10, 10, 1), np.float32)
    step[:, 5:] = 1  # 90 vertical pairs equal, 80 of 90 horizontal: 170 / 180 = 0.944
    assert FLAT_PAIRS <= 170 / 180 and piecewise_flat(step)
    bars = np.zeros((10, 10, 1), np.float32)
    bars[:, 1::2] = 1  # every horizontal pair differs: 90 / 180 = 0.5
    assert not piecewise_flat(bars)
    rng = np.random.default_rng(0)
    scene = np.zeros((90, 120, 3), np.uint8)
    scene[:] = (120, 200, 60)
    scene[20:70, 30:80] = (90, 170, 50)  # a low-contrast square
    scene[40:85, 85:115] = (200, 40, 90)
    assert np.array_equal(lnsnet.segment(scene, 60), lnsnet.segment(scene, 60, clustering="fast:blur=0"))
    noisy = np.clip(scene + rng.normal(0, 3, scene.shape), 0, 255).astype(np.uint8)
    assert not piecewise_flat(noisy)
    assert not np.array_equal(lnsnet.segment(noisy, 60), lnsnet.segment(noisy, 60, clustering="fast:blur=0"))


def test_a_mask_keeps_the_outside_out_of_the_blur_rule_and_the_dark_lift():
    """The pixels outside a mask add no statistic of their own: a photo on a plain canvas is
    not piecewise flat (it lost its blur: labels unlike the photo's own), and NaN nodata or a
    bright canvas outside the mask no longer hide a dim image's edges from the lift."""
    import lnsnet

    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(0.5, 0.1, (60, 80, 3)) + np.linspace(0, 0.3, 80)[None, :, None], 0, 1)
    photo = (photo * 255).astype(np.uint8)
    canvas = np.zeros((200, 240, 3), np.uint8)
    canvas[70:130, 90:170] = photo
    inside = np.zeros((200, 240), bool)
    inside[70:130, 90:170] = True
    padded = lnsnet.segment(canvas, 30, mask=inside)[70:130, 90:170]
    alone = lnsnet.segment(photo, 30, mask=np.ones((60, 80), bool))
    assert np.array_equal(padded, alone)
    step = np.zeros((60, 60), np.float32)
    step[:, 29:] = 1
    dim = ((step * 0.5 + 0.25) + 0.01 * rng.random((60, 60)).astype(np.float32)) * np.float32(1e-8)
    mask = np.ones((60, 60), bool)
    mask[0, 0] = False
    for outside in (np.nan, 0.5):
        img = dim.copy()
        img[0, 0] = outside
        lab = lnsnet.segment(img, 20, mask=mask)
        assert sum(len(np.unique(step[mask & (lab == i)])) > 1 for i in np.unique(lab[mask])) == 0, outside
