from pathlib import Path

import numpy as np
import pytest

from lnsnet.io import overlay, read_image, read_labels, save_labels, to_float_rgb


def test_gray_rgba_uint16_float_conversions():
    g = np.array([[0, 255]], np.uint8)
    out = to_float_rgb(g)
    assert out.shape == (1, 2, 3) and out.dtype == np.float32
    assert np.allclose(out[0, 1], 1.0) and np.allclose(out[0, 0], 0.0)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 51
    rgba[..., 3] = 7
    assert np.allclose(to_float_rgb(rgba)[..., 0], 0.2)
    u16 = np.full((2, 2), 65535, np.uint16)
    assert np.allclose(to_float_rgb(u16), 1.0)
    f = np.full((2, 2, 3), 0.5, np.float64)
    assert np.allclose(to_float_rgb(f), 0.5)
    assert to_float_rgb(np.zeros((3, 4, 1), np.uint8)).shape == (3, 4, 3)


@pytest.mark.parametrize(
    "arr,exc",
    [
        (np.zeros((2, 2, 2), np.uint8), ValueError),
        (np.zeros((2, 2, 3, 1), np.uint8), ValueError),
        (np.zeros((0, 5), np.uint8), ValueError),
        (np.full((2, 2), np.nan), ValueError),
        (np.zeros((2, 2), complex), TypeError),
        ([[0, 1]], TypeError),
    ],
)
def test_bad_images_are_refused(arr, exc):
    with pytest.raises(exc):
        to_float_rgb(arr)


def test_label_roundtrip_png_and_npy(tmp_path):
    lab = np.arange(12, dtype=np.int32).reshape(3, 4) * 1000
    written = save_labels(tmp_path / "x_labels", lab)
    assert {p.suffix for p in written} == {".png", ".npy"}
    assert np.array_equal(read_labels(tmp_path / "x_labels.png"), lab)
    assert np.array_equal(read_labels(tmp_path / "x_labels.npy"), lab)
    assert not list(tmp_path.glob("*.tmp"))


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="bad.png"):
        read_image(bad)


def test_overlay_marks_boundaries():
    img = np.zeros((4, 4), np.uint8)
    lab = np.zeros((4, 4), np.int32)
    lab[:, 2:] = 1
    ov = overlay(img, lab, color=(255, 0, 0))
    # column 1 differs from its right neighbour: boundary; the rest stays black
    assert (ov[:, 1] == (255, 0, 0)).all()
    assert (ov[:, [0, 2, 3]] == 0).all()


# ------------------------------------------------------------------ full bit depth in

def _write_png(path, arr, interlace=False):
    """A 16-bit PNG written by hand (numpy + zlib): gray + alpha, RGB or RGBA by the
    channel count; the rows take the five filter types in turn (none, sub, up, average,
    Paeth), so the reader's unfiltering is checked on each; Adam7 with ``interlace``."""
    import struct
    import zlib

    arr = np.asarray(arr, dtype=np.uint16)
    h, w, ch = arr.shape
    data = arr.astype(">u2")
    bpp = 2 * ch
    passes = ([(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
              if interlace else [(0, 0, 1, 1)])
    raw = []
    for y0, x0, dy, dx in passes:
        sub = np.ascontiguousarray(data[y0::dy, x0::dx])
        if sub.size == 0:
            continue
        rows = sub.view(np.uint8).reshape(sub.shape[0], -1).astype(np.int32)
        prev = np.zeros(rows.shape[1], np.int32)
        for i, row in enumerate(rows):
            ft = i % 5
            left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
            upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
            if ft == 4:
                p = left + prev - upleft
                pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
                pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            else:
                pred = [0, left, prev, (left + prev) // 2][ft]
            raw.append(bytes([ft]) + ((row - pred) % 256).astype(np.uint8).tobytes())
            prev = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    colour = {2: 4, 3: 2, 4: 6}[ch]
    header = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, int(interlace))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(raw)))
                     + chunk(b"IEND", b""))


def _twelve_bit(h, w, ch, seed=0):
    """12-bit data (0..4095, both ends present) with smooth and noisy parts."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4096, (h, w, ch)).astype(np.uint16)
    a[: h // 2] = (np.arange(w)[None, :, None] * 4095 // max(1, w - 1)).astype(np.uint16)
    a[0, 0], a[-1, -1] = 0, 4095
    return a


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("ch", [3, 4, 2])
def test_16bit_png_is_read_whole(tmp_path, ch, interlace):
    a = _twelve_bit(37, 53, ch, seed=ch)
    p = tmp_path / "deep.png"
    _write_png(p, a, interlace=interlace)
    want = a[:, :, 0] if ch == 2 else a[:, :, :3]  # the alpha dropped: gray + alpha -> gray, RGBA -> RGB
    got = read_image(p)
    assert got.dtype == np.uint16 and int(got.max()) == 4095
    assert np.array_equal(got, want)
    assert np.array_equal(read_image(p, data=p.read_bytes()), want)  # bytes as the Ray engine passes them
    bad = tmp_path / "cut.png"
    bad.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.png"):
        read_image(bad)


def test_16bit_png_writer_agrees_with_opencv(tmp_path):
    """The hand-made PNGs above are read alike by libpng (where OpenCV is installed)."""
    cv2 = pytest.importorskip("cv2")
    a = _twelve_bit(20, 31, 3)
    p = tmp_path / "deep.png"
    _write_png(p, a)
    assert np.array_equal(cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[:, :, ::-1], a)


@pytest.mark.parametrize("kw", [{}, {"compression": "zlib"}, {"planarconfig": "separate"}])
def test_16bit_tiff_is_read_whole(tmp_path, kw):
    tifffile = pytest.importorskip("tifffile")
    a = _twelve_bit(23, 41, 3)
    p = tmp_path / "deep.tif"
    tifffile.imwrite(p, np.moveaxis(a, 2, 0) if kw.get("planarconfig") == "separate" else a, photometric="rgb", **kw)
    got = read_image(p)
    assert got.dtype == np.uint16 and int(got.max()) == 4095 and np.array_equal(got, a)
    tifffile.imwrite(p, a[:, :, 1], **kw)  # gray
    assert np.array_equal(read_image(p), a[:, :, 1])
    eight = _twelve_bit(23, 41, 8)  # multispectral: every channel kept
    tifffile.imwrite(p, np.moveaxis(eight, 2, 0) if kw else eight, photometric="minisblack",
                     **({"planarconfig": "separate"} if kw else {"planarconfig": "contig"}))
    assert np.array_equal(read_image(p), eight)
    from PIL import Image

    Image.fromarray((a[:, :, 0] // 16).astype(np.uint8)).save(p, compression="tiff_lzw")  # 8-bit: Pillow's codecs
    assert np.array_equal(read_image(p), (a[:, :, 0] // 16).astype(np.uint8))


def test_labels_above_65535_are_a_32bit_tiff(tmp_path):
    lab = (np.arange(300 * 250, dtype=np.int32).reshape(300, 250) + 1)  # 75,000 labels
    written = save_labels(tmp_path / "x_labels", lab)
    assert sorted(p.name for p in written) == ["x_labels.npy", "x_labels.tif"]
    assert np.array_equal(read_labels(tmp_path / "x_labels.tif"), lab)
    assert np.array_equal(read_labels(tmp_path / "x_labels.npy"), lab)
    small = save_labels(tmp_path / "y_labels", np.full((3, 4), 65535, np.int32))
    assert sorted(p.name for p in small) == ["y_labels.npy", "y_labels.png"]  # 65,535 fits a 16-bit PNG


def test_other_types_and_out_of_range_floats_are_stretched():
    """As segment() reads them: from their minimum to their maximum (a flat image: 0)."""
    from lnsnet.io import to_float_rgb

    np.testing.assert_allclose(to_float_rgb(np.array([[0, 2], [4, 6]], np.int64))[..., 0], [[0, 1 / 3], [2 / 3, 1]])
    np.testing.assert_allclose(to_float_rgb(np.array([[-1000, 40]], np.int16))[..., 1], [[0, 1]])
    np.testing.assert_allclose(to_float_rgb(np.array([[0.5, 1.5]]))[..., 2], [[0, 1]])
    assert np.all(to_float_rgb(np.full((2, 2), 1.5)) == 0)
    assert to_float_rgb(np.array([[True, False]])).tolist() == [[[1, 1, 1], [0, 0, 0]]]



def test_a_plain_multi_page_tiff_says_how_to_get_supervoxels(tmp_path):
    """A stack of pages without axes metadata (I: MicroManager's, a plain export) refused as
    an image points to --volume, as a Z stack does."""
    import tifffile

    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((5, 20, 20), np.uint8), metadata=None)
    with pytest.raises(ValueError, match=r"pages \(I\).*for supervoxels: --volume"):
        read_image(tmp_path / "plain.tif")


def test_a_two_channel_image_written_as_pages_gets_a_hint(tmp_path):
    """tifffile.imwrite of an (H, W, 2) array stores H pages of W x 2: refused as pages, with
    the way to write one image of two channels (which then reads as (H, W, 2))."""
    import pytest
    import tifffile

    from lnsnet.io import read_image

    img = np.random.default_rng(0).random((64, 80, 2)).astype(np.float32)
    tifffile.imwrite(tmp_path / "two.tif", img)
    with pytest.raises(ValueError, match="one image of 2 channels written by tifffile.imwrite"):
        read_image(tmp_path / "two.tif")
    tifffile.imwrite(tmp_path / "ok.tif", img, photometric="minisblack", planarconfig="contig",
                     metadata={"axes": "YXC"})
    assert np.array_equal(read_image(tmp_path / "ok.tif"), img)


def test_a_full_disk_is_named_whatever_the_writer_raises(tmp_path, monkeypatch):
    import errno
    import shutil
    from collections import namedtuple

    from lnsnet.io import atomic_write

    def torch_like(tmp):  # torch.save on a full disk: "[enforce fail at inline_container.cc] unexpected pos"
        Path(tmp).write_bytes(b"x")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    with pytest.raises(RuntimeError, match="unexpected pos"):  # room on the disk: the writer's own error
        atomic_write(tmp_path / "m.pt", torch_like)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10**9, 10**9, 512))
    with pytest.raises(OSError, match="no space left on the device") as info:
        atomic_write(tmp_path / "m.pt", torch_like)
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left, nothing written
