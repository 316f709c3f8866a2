"""A corpus of odd and hostile image files, made here (nothing downloaded), and the rule
each one must meet. Used by tests/test_odd_files.py and scripts/bad_inputs_report.py
(which writes the table of docs/reliability.md from it).

Each :class:`Case` is one file and what lnsnet must do with it:

- ``read``: ``read_image`` returns an array of ``dtype`` and ``shape`` (and, where given,
  equal to ``want``, or within ``tol`` of it for lossy formats); then ``segment`` either
  delivers labels (``segment=None``) or refuses with a ``ValueError`` containing
  ``segment``;
- ``refused``: ``read_image`` raises a ``ValueError`` naming the file and containing
  ``refused``, before any pixel is decoded where the case is a decompression bomb.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Case:
    name: str  # file name in the corpus folder
    kind: str  # what sort of file it is, for the table
    rule: str  # what lnsnet does with it, for the table
    dtype: str | None = None  # read: the array's dtype
    shape: tuple | None = None  # read: the array's shape
    want: np.ndarray | None = None  # read: the expected values
    tol: float = 0.0  # read: largest mean absolute difference from ``want`` (lossy formats)
    refused: str | None = None  # refused: a part of the message
    segment: str | None = None  # read: segment refuses it with this part of a message


def base_image(h: int = 48, w: int = 64) -> np.ndarray:
    """An asymmetric RGB test picture: a gradient, a disc and a bar, so that a flip or a
    rotation changes it and superpixels have edges to find."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (xx * 255 // max(1, w - 1)).astype(np.uint8)
    img[..., 1] = (yy * 255 // max(1, h - 1)).astype(np.uint8)
    img[..., 2] = 60
    img[(yy - h // 3) ** 2 + (xx - w // 4) ** 2 < (h // 6) ** 2] = (250, 240, 30)
    img[h // 2 : h // 2 + 6, w // 2 :] = (20, 30, 200)
    return img


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, idat: bytes, color_type: int = 0, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _zlib_zeros(n: int) -> bytes:
    """zlib data of ``n`` zero bytes, made in pieces (about n / 1000 bytes)."""
    c = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts = []
    while n > 0:
        parts.append(c.compress(block[: min(n, len(block))]))
        n -= len(block)
    parts.append(c.flush())
    return b"".join(parts)


def _tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose IFD claims ``width x height`` 8-bit gray pixels in one
    strip of 8 bytes."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 8)]
    ifd_offset = 16
    out = b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(8)
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    return out + struct.pack("<I", 0)


def _save(im, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, **kw)
    return buf.getvalue()


def _tiff(arr, **kw) -> bytes:
    import tifffile

    buf = io.BytesIO()
    if arr.ndim == 3 and arr.shape[-1] == 3 and "photometric" not in kw:
        kw["photometric"] = "rgb"  # tifffile's default today, said so it stays one RGB page
    tifffile.imwrite(buf, arr, **kw)
    return buf.getvalue()


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


def _oriented_store(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores for an ``upright`` picture, tagged ``orientation``: the
    inverse of what a viewer applies (2, 3, 4, 5 and 7 are their own inverses; 6 and 8
    are each other's)."""
    inverse = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
               5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, 1), 7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
               8: lambda a: np.rot90(a, -1)}
    return np.ascontiguousarray(inverse[orientation](upright))


def make_corpus(folder) -> list[Case]:
    """Write every file of the corpus into ``folder``; return the cases."""
    from PIL import Image, ImageCms

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    img = base_image()
    h, w = img.shape[:2]
    pil = Image.fromarray(img)
    gray = img[..., 1]
    cases: list[Case] = []

    def add(name: str, data: bytes, case: Case) -> None:
        assert Path(name).stem not in {Path(c.name).stem for c in cases}, name  # one output name per file
        (folder / name).write_bytes(data)
        case.name = name
        cases.append(case)

    def read(kind, rule, dtype, shape, want=None, tol=0.0, segment=None):
        return Case("", kind, rule, dtype=dtype, shape=tuple(shape), want=want, tol=tol, segment=segment)

    def refused(kind, rule, part):
        return Case("", kind, rule, refused=part)

    bomb = "refused from its header, before decoding: over the pixel limit (--max-pixels)"
    # decompression bombs: small files whose headers claim huge images
    add("bomb_60000x60000.png", _png(60000, 60000, zlib.compress(bytes(60001))),
        refused("PNG header claiming 60000 x 60000 (1 KB)", bomb, "3,600,000,000 pixels"))
    png_bomb = _png(17000, 17000, _zlib_zeros(17001 * 17000))
    add("bomb_zlib_17000x17000.png", png_bomb,
        refused("PNG of 17000 x 17000 zeros, really compressed (289 M pixels in 280 KB)", bomb, "289,000,000 pixels"))
    gif = bytearray(_save(Image.fromarray(gray[:2, :2]), format="GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    desc = gif.index(b",", 13)
    gif[desc + 5 : desc + 9] = struct.pack("<HH", 65535, 65535)
    add("bomb_65535x65535.gif", bytes(gif), refused("GIF header claiming 65535 x 65535", bomb, "4,294,836,225 pixels"))
    add("bomb_100000x100000.tif", _tiff_header_only(100000, 100000),
        refused("TIFF header claiming 100000 x 100000", bomb, "100000 x 100000"))
    jpg = bytearray(_save(pil, format="JPEG", quality=90))
    sof = jpg.index(b"\xff\xc0")
    jpg[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    add("bomb_65500x65500.jpg", bytes(jpg), refused("JPEG header claiming 65500 x 65500", bomb, "4,290,250,000 pixels"))
    bmp = bytearray(_save(pil, format="BMP"))
    bmp[18:26] = struct.pack("<ii", 50000, 50000)
    add("bomb_50000x50000.bmp", bytes(bmp), refused("BMP header claiming 50000 x 50000", bomb, "2,500,000,000 pixels"))
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 8, len(png_bomb), 22) + png_bomb
    add("bomb_17000x17000.ico", ico, refused("ICO holding the 17000 x 17000 PNG (Pillow decodes an ICO while "
                                             "opening it)", "refused by Pillow's guard, set to lnsnet's limit",
                                             "289,000,000 pixels"))
    text = zlib.compress(bytes(64 << 20))
    add("bomb_text_chunk.png", _png(w, h, zlib.compress(bytes((w + 1) * h)), extra=_png_chunk(b"zTXt", b"c\0\0" + text)),
        refused("PNG with a zTXt chunk of 64 MB of text in 64 KB", "refused (Pillow's text-chunk limit)", "too large"))

    # truncated and damaged files
    good = {"jpg": _save(pil, format="JPEG", quality=90), "png": _save(pil, format="PNG"),
            "tif": _tiff(img), "gif": _save(pil, format="GIF"), "webp": _save(pil, format="WEBP", quality=80),
            "bmp": _save(pil, format="BMP")}
    for ext, data in good.items():
        add(f"truncated_{ext}.{ext}", data[: len(data) // 2],
            refused(f"{ext.upper()} cut in half", "refused: the decoder's reason", "cannot read image"))
    png = good["png"]
    idat = png.index(b"IDAT")
    add("flipped_idat.png", _flip(png, idat + 20),
        refused("PNG with a flipped byte in its pixel data (CRC mismatch)", "refused: the decoder's reason",
                "cannot read image"))
    add("flipped_header.jpg", _flip(good["jpg"], 1),
        refused("JPEG with a flipped byte in its start marker", "refused: not an image", "cannot read image"))
    jdata = good["jpg"]
    sos = jdata.index(b"\xff\xda")
    add("flipped_scan.jpg", _flip(jdata, sos + 200),
        read("JPEG with a flipped byte in its entropy-coded data",
             "read: libjpeg decodes past the damage, which shows in the pixels (not detectable as an error)",
             "uint8", (h, w, 3)))
    tif = good["tif"]
    ifd = struct.unpack("<I", tif[4:8])[0]
    offsets = tif.index(struct.pack("<HH", 273, 4))  # StripOffsets, LONG: point it past the end
    add("bad_strip_offset.tif", tif[: offsets + 8] + struct.pack("<I", 10**7) + tif[offsets + 12 :],
        refused("TIFF whose pixel data offset points past the end", "refused: the decoder's reason",
                "cannot read image"))
    add("empty_png.png", b"", refused("zero-byte .png", "refused", "empty"))
    add("empty_tif.tif", b"", refused("zero-byte .tif", "refused", "empty"))
    add("png_named.jpg", png, read("PNG named .jpg", "read: the content decides, not the extension", "uint8",
                                   (h, w, 3), want=img))
    add("jpeg_named.tif", good["jpg"], read("JPEG named .tif", "read: the content decides, not the extension",
                                            "uint8", (h, w, 3), want=img, tol=5.0))
    add("text_named.png", b"just some text, not an image\n", refused("text named .png", "refused", "cannot identify"))
    add("html_named.jpg", b"<!doctype html><title>404</title>", refused("an HTML error page named .jpg", "refused",
                                                                        "cannot identify"))

    # deep, signed and float data
    deep = (gray.astype(np.uint16) * 16).astype(np.uint16)  # 12-bit data in 16-bit
    add("u16_gray_12bit.tif", _tiff(deep), read("16-bit gray TIFF holding 12-bit values (0..4080)",
                                                "read as uint16, values kept; segment scales by 65535",
                                                "uint16", (h, w), want=deep))
    rgb16 = img.astype(np.uint16) * 257
    add("u16_rgb.tif", _tiff(rgb16, photometric="rgb"), read("16-bit RGB TIFF", "read as uint16", "uint16",
                                                             (h, w, 3), want=rgb16))
    add("u16_gray.png", _save(Image.fromarray(deep), format="PNG"), read("16-bit gray PNG (Pillow mode I;16)", "read as uint16",
                                                           "uint16", (h, w), want=deep))
    unit = (0.001 + 0.998 * img.astype(np.float32) / 255).astype(np.float32)
    add("f32_in_unit.tif", _tiff(unit), read("float32 RGB TIFF, values 0.001..0.999",
                                             "read as float32, values kept (not stretched to 0..1)", "float32",
                                             (h, w, 3), want=unit))
    ct = (gray.astype(np.float32) * 16 - 1000).astype(np.float32)
    add("f32_ct.tif", _tiff(ct), read("float32 gray TIFF, values -1000..3080 (CT-like)",
                                      "read as float32, values kept; segment stretches min..max to 0..1 "
                                      "(as slic), the CLI says so", "float32", (h, w), want=ct))
    nan = unit[..., 0].copy()
    nan[5:9, 5:9] = np.nan
    add("f32_nan.tif", _tiff(nan), read("float32 TIFF with NaN pixels", "read; the API refuses NaN (mask= "
                                        "leaves them out); lnsnet segment leaves them out, label 0", "float32",
                                        (h, w), want=nan,
                                        segment="NaN"))
    f64 = unit[..., 1].astype(np.float64)
    add("f64.tif", _tiff(f64), read("float64 TIFF", "read as float64", "float64", (h, w), want=f64))
    f16 = unit[..., 2].astype(np.float16)
    add("f16.tif", _tiff(f16), read("float16 TIFF", "read as float32 (exact)", "float32", (h, w),
                                    want=f16.astype(np.float32)))
    i16 = (gray.astype(np.int16) * 100 - 12000).astype(np.int16)
    add("i16_signed.tif", _tiff(i16), read("signed 16-bit TIFF (-12000..13500)", "read as int16, values kept; "
                                           "segment stretches min..max", "int16", (h, w), want=i16))
    u32 = gray.astype(np.uint32) * 16777216 + 7
    add("u32.tif", _tiff(u32), read("32-bit unsigned TIFF (up to 4.3e9)", "read as uint32, values kept "
                                    "(not clipped)", "uint32", (h, w), want=u32))
    eight = np.stack([gray, img[..., 0], img[..., 2]] * 2 + [gray // 2, 255 - gray], axis=-1)
    add("channels_8_interleaved.tif", _tiff(eight, photometric="minisblack", planarconfig="contig"),
        read("8-channel TIFF (multispectral)", "read as HxWx8; segment encodes the channels", "uint8", (h, w, 8),
             want=eight))
    add("bigtiff.tif", _tiff(img, bigtiff=True), read("BigTIFF", "read", "uint8", (h, w, 3), want=img))

    # netpbm: samples as stored, whatever the maxval
    p16 = (img.astype(np.uint16) * 257)
    add("rgb16.ppm", b"P6\n%d %d\n65535\n" % (w, h) + p16.astype(">u2").tobytes(),
        read("16-bit PPM (P6, maxval 65535)", "read as uint16, as stored", "uint16", (h, w, 3), want=p16))
    g12 = (gray.astype(np.uint16) * 16)
    add("gray12.pgm", b"P5\n# a comment\n%d %d\n4095\n" % (w, h) + g12.astype(">u2").tobytes(),
        read("12-bit PGM (P5, maxval 4095)", "read as uint16 0..4095, as stored (Pillow would rescale to 65535)",
             "uint16", (h, w), want=g12))
    g100 = (gray.astype(np.uint16) * 100 // 255).astype(np.uint8)
    add("gray100.pgm", b"P2\n%d %d\n100\n" % (w, h) + " ".join(map(str, g100.ravel())).encode(),
        read("plain-text PGM (P2, maxval 100)", "read as uint8 0..100, as stored (not stretched to 255)", "uint8",
             (h, w), want=g100))

    # several images in one file
    add("multipage_4.tif", _tiff(np.stack([gray, gray // 2, 255 - gray, gray // 3]), photometric="minisblack"),
        refused("TIFF of 4 gray pages", "refused: several images, none picked silently", "4 pages"))
    add("stack_z5.tif", _tiff(np.stack([gray] * 5)[:, None], imagej=True, metadata={"axes": "ZCYX"}),
        refused("ImageJ 3-D stack, 5 slices", "refused: a 3-D volume", "3-D stack of 5"))
    add("timeseries_t4.tif", _tiff(np.stack([gray] * 4), imagej=True, metadata={"axes": "TYX"}),
        refused("ImageJ time series, 4 frames", "refused: several images", "time series of 4"))
    planar = np.stack([gray, img[..., 0], img[..., 2]])
    add("channels_c3_imagej.tif", _tiff(planar, imagej=True, metadata={"axes": "CYX"}),
        read("ImageJ 3-channel image (channels as pages)", "read as HxWx3 channels", "uint8", (h, w, 3),
             want=np.moveaxis(planar, 0, -1)))
    buf = io.BytesIO()
    import tifffile

    with tifffile.TiffWriter(buf) as tw:
        tw.write(img)
        tw.write(gray[:20, :30])
    add("two_images.tif", buf.getvalue(), refused("TIFF of two images of different sizes", "refused: several images",
                                                  "2 images"))
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tw:
        tw.write(img, subifds=1)
        tw.write(img[::2, ::2], subfiletype=1)
    add("pyramid.tif", buf.getvalue(), read("TIFF with a reduced-resolution level", "read: the full-resolution image",
                                            "uint8", (h, w, 3), want=img))
    frames = [Image.fromarray(np.roll(img, 8 * i, axis=1)) for i in range(3)]
    add("animated_gif.gif", _save(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        refused("animated GIF, 3 frames", "refused: several frames, none picked silently", "3 frames"))
    add("animated_png.png", _save(frames[0], format="PNG", save_all=True, append_images=frames[1:], duration=100),
        refused("animated PNG (APNG), 3 frames", "refused: several frames", "3 frames"))
    add("animated_webp.webp", _save(frames[0], format="WEBP", save_all=True, append_images=frames[1:], duration=100,
                               lossless=True),
        refused("animated WebP, 3 frames", "refused: several frames", "3 frames"))
    add("single_frame.gif", good["gif"], read("GIF of one frame (palette)", "read as RGB uint8", "uint8", (h, w, 3)))
    add("camera.mpo", _save(frames[0], format="MPO", save_all=True, append_images=frames[1:2], quality=92),
        read("MPO (a camera JPEG with a second picture)", "read: the primary picture", "uint8", (h, w, 3),
             want=img, tol=5.0))

    # colour modes
    cmyk = pil.convert("CMYK")
    add("cmyk.jpg", _save(cmyk, format="JPEG", quality=95),
        read("CMYK JPEG", "read as RGB uint8 (Pillow's conversion; an ICC profile is not applied)", "uint8",
             (h, w, 3), want=img, tol=5.0))
    add("cmyk_tiff.tif", _save(cmyk, format="TIFF"), read("CMYK TIFF", "read as RGB uint8 (Pillow's conversion)", "uint8",
                                                     (h, w, 3), want=img, tol=1.0))
    pal = pil.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    add("palette.png", _save(pal, format="PNG"), read("palette PNG, 16 colours", "read as RGB uint8", "uint8",
                                                      (h, w, 3), want=np.array(pal.convert("RGB"))))
    palt = pal.copy()
    palt.info["transparency"] = 0
    add("palette_transparent.png", _save(palt, format="PNG"),
        read("palette PNG with a transparent colour", "read as RGB uint8, transparency ignored", "uint8", (h, w, 3),
             want=np.array(pal.convert("RGB"))))
    bilevel = Image.fromarray(gray > 128).convert("1")
    add("bilevel.png", _save(bilevel, format="PNG"), read("1-bit PNG", "read as gray uint8 (0, 255)", "uint8", (h, w),
                                                           want=np.where(gray > 128, 255, 0).astype(np.uint8)))
    add("bilevel_g4.tif", _save(bilevel, format="TIFF", compression="group4"),
        read("1-bit TIFF, CCITT group 4", "read as gray uint8 (0, 255)", "uint8", (h, w),
             want=np.where(gray > 128, 255, 0).astype(np.uint8)))
    la = Image.fromarray(np.dstack([gray, 255 - gray]), mode="LA") if False else Image.merge(
        "LA", [Image.fromarray(gray), Image.fromarray(255 - gray)])
    add("gray_alpha.png", _save(la, format="PNG"), read("gray + alpha PNG (LA)", "read as gray uint8, alpha dropped",
                                                        "uint8", (h, w), want=gray))
    add("rgba.png", _save(Image.fromarray(np.dstack([img, 255 - gray])), format="PNG"),
        read("RGBA PNG", "read as RGB uint8, alpha dropped", "uint8", (h, w, 3), want=img))
    add("gray.jpg", _save(Image.fromarray(gray), format="JPEG", quality=95),
        read("gray JPEG", "read as gray uint8", "uint8", (h, w), want=gray, tol=2.0))
    add("progressive.jpg", _save(pil, format="JPEG", quality=90, progressive=True),
        read("progressive JPEG", "read", "uint8", (h, w, 3), want=img, tol=5.0))
    add("lossless.webp", _save(pil, format="WEBP", lossless=True), read("lossless WebP", "read", "uint8", (h, w, 3),
                                                                        want=img))

    # orientation
    for o in range(1, 9):
        stored = Image.fromarray(_oriented_store(img, o))
        exif = Image.Exif()
        exif[274] = o
        add(f"exif_orientation_{o}.jpg", _save(stored, format="JPEG", quality=95, exif=exif.tobytes()),
            read(f"JPEG, EXIF orientation {o}", "read upright, as viewers show it (--ignore-orientation: as stored)",
                 "uint8", (h, w, 3), want=img, tol=5.0))
    exif = Image.Exif()
    exif[274] = 6
    add("exif_png_orientation_6.png", _save(Image.fromarray(_oriented_store(img, 6)), format="PNG", exif=exif.tobytes()),
        read("PNG with an eXIf chunk, orientation 6", "read upright", "uint8", (h, w, 3), want=img))
    add("orientation_8.tif", _tiff(_oriented_store(img, 8), extratags=[(274, 3, 1, 8, True)]),
        read("TIFF, Orientation tag 8", "read upright", "uint8", (h, w, 3), want=img))
    bad_exif = Image.Exif()
    bad_exif[274] = 77
    add("exif_orientation_77.jpg", _save(pil, format="JPEG", quality=95, exif=bad_exif.tobytes()),
        read("JPEG, EXIF orientation 77 (invalid)", "read as stored (an invalid tag is ignored)", "uint8",
             (h, w, 3), want=img, tol=5.0))

    # ICC profiles
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    add("icc_srgb.jpg", _save(pil, format="JPEG", quality=95, icc_profile=srgb),
        read("JPEG with an sRGB ICC profile", "read as stored: the profile is not applied", "uint8", (h, w, 3),
             want=img, tol=5.0))
    lab_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    add("icc_other.png", _save(pil, format="PNG", icc_profile=lab_profile),
        read("PNG with a non-sRGB ICC profile", "read as stored: the profile is not applied", "uint8", (h, w, 3),
             want=img))

    # shapes
    row = np.tile(img[h // 2], (200000 // w + 1, 1))[:200000]
    add("thin_1x200000.png", _save(Image.fromarray(row[None]), format="PNG"),
        read("1 x 200000 PNG", "read; segmented as a 1-pixel strip", "uint8", (1, 200000, 3)))
    add("tall_200000x1.png", _save(Image.fromarray(row[:, None]), format="PNG"),
        read("200000 x 1 PNG", "read; segmented as a 1-pixel strip", "uint8", (200000, 1, 3)))
    add("one_pixel.png", _save(Image.fromarray(img[:1, :1]), format="PNG"),
        read("1 x 1 PNG", "read; one superpixel", "uint8", (1, 1, 3), want=img[:1, :1]))
    return cases
