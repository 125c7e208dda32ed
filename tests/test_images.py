"""explorer.images on a corpus of good and bad files made here with Pillow, and the array helpers.

Every decode either returns a correct uint8 array (shape and pixel values are
checked) or raises ExplorerError with a message: never another exception.
"""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile
from scipy import ndimage

from explorer import images
from explorer.errors import ExplorerError

FAST = settings(max_examples=60, deadline=None)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def crafted_png(width: int, height: int, rows: int = 1) -> bytes:
    """A 1-bit grayscale PNG header claiming width x height, with only ``rows`` rows of data.

    Nothing large is ever allocated here; a decoder that honoured the header
    and decoded anyway would fail on the missing rows rather than on size.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = zlib.compress(row * rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def random_rgb(height=37, width=41, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- bad inputs


def test_empty_file():
    with pytest.raises(ExplorerError, match="empty"):
        images.decode_image(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"this is a text file that someone renamed to digit.png\n" * 3,
        b"\x89PNG\r\n\x1a\n",  # the signature and nothing else
        bytes(range(256)) * 4,
        b"GIF89a",
        b"\xff\xd8\xff",  # a JPEG start marker only
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    ],
)
def test_non_images_are_refused_with_a_message(data):
    with pytest.raises(ExplorerError, match=r"\w+ \w+"):
        images.decode_image(data)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 90}),
        ("GIF", {}),
        ("BMP", {}),
        ("WEBP", {"lossless": True}),
    ],
)
def test_truncated_files_raise_explorer_error_or_decode_completely(fmt, options):
    """Cut a file anywhere: the result is a clear error or (trailer missing) the full image."""
    data = encode(Image.fromarray(random_rgb()), fmt, **options)
    full = images.decode_image(data)
    cuts = sorted(set(np.linspace(1, len(data) - 1, 60).astype(int)) | {len(data) // 2, 8, 30})
    refused = 0
    for cut in cuts:
        try:
            partial = images.decode_image(data[:cut])
        except ExplorerError as error:
            assert str(error)
            refused += 1
        else:
            np.testing.assert_array_equal(partial, full, err_msg=f"{fmt} cut at {cut}")
    assert refused >= len(cuts) - 5


def test_truncated_png_message_says_damaged():
    data = encode(Image.fromarray(random_rgb(64, 64)), "PNG")
    with pytest.raises(ExplorerError, match="damaged|truncated|not an image"):
        images.decode_image(data[: len(data) // 2])


def test_oversized_upload_is_refused_before_decoding():
    with pytest.raises(ExplorerError, match="MB"):
        images.decode_image(b"\x00" * (images.MAX_FILE_BYTES + 1))


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (6_000, 5_000), (100_000, 300)])
def test_huge_dimensions_are_refused_by_the_header(width, height):
    data = crafted_png(width, height)
    assert len(data) < 20_000
    start = time.perf_counter()
    with pytest.raises(ExplorerError, match="large|megapixels"):
        images.decode_image(data)
    assert time.perf_counter() - start < 2.0


def test_max_pixels_argument_is_honoured():
    data = encode(Image.fromarray(random_rgb(100, 100)), "PNG")
    with pytest.raises(ExplorerError, match="megapixels"):
        images.decode_image(data, max_pixels=9_999)
    assert images.decode_image(data, max_pixels=10_000).shape == (100, 100, 3)


@pytest.mark.parametrize(("width", "height"), [(6_000, 5_000), (30_000, 30_000)])
def test_huge_dimensions_never_reach_the_pixel_decoder(monkeypatch, width, height):
    """Refusal must come from the header alone: loading pixels is made to blow up here."""

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ExplorerError, match="large|megapixels"):
        images.decode_image(crafted_png(width, height))


def test_crafted_png_is_a_readable_file_when_small():
    """The crafted file is otherwise valid, so only the size explains the refusals above."""
    decoded = images.decode_image(crafted_png(64, 64, rows=64))
    assert decoded.shape == (64, 64, 1) and not decoded.any()


# --------------------------------------------------------------------------- good inputs


def test_one_by_one_images():
    gray = images.decode_image(encode(Image.new("L", (1, 1), 77), "PNG"))
    assert gray.dtype == np.uint8 and gray.shape == (1, 1, 1) and gray[0, 0, 0] == 77
    rgb = images.decode_image(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    assert rgb.shape == (1, 1, 3) and rgb[0, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("fmt", "options"), [("PNG", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {})]
)
def test_lossless_rgb_round_trip(fmt, options):
    array = random_rgb()
    decoded = images.decode_image(encode(Image.fromarray(array), fmt, **options))
    assert decoded.dtype == np.uint8 and decoded.shape == (37, 41, 3)
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(("fmt", "options"), [("PNG", {}), ("BMP", {}), ("JPEG", {"quality": 100})])
def test_grayscale_files_give_one_channel(fmt, options):
    array = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (16, 1))
    decoded = images.decode_image(encode(Image.fromarray(array), fmt, **options))
    assert decoded.dtype == np.uint8 and decoded.shape == (16, 32, 1)
    np.testing.assert_allclose(decoded[..., 0].astype(int), array.astype(int), atol=3)


def test_lossy_jpeg_and_webp_are_close():
    array = np.zeros((32, 32, 3), np.uint8)
    array[:, 16:] = (200, 40, 90)
    for fmt in ("JPEG", "WEBP"):
        decoded = images.decode_image(encode(Image.fromarray(array), fmt, quality=95))
        assert decoded.shape == (32, 32, 3) and decoded.dtype == np.uint8
        assert np.abs(decoded[8, 4].astype(int) - 0).max() <= 8, fmt
        assert np.abs(decoded[8, 28].astype(int) - [200, 40, 90]).max() <= 8, fmt


def test_sixteen_bit_grayscale_is_scaled_from_65535():
    values = np.array([[0, 257, 32768, 65535], [1000, 20000, 50000, 65280]], np.uint16)
    decoded = images.decode_image(encode(Image.fromarray(values), "PNG"))
    assert decoded.dtype == np.uint8 and decoded.shape == (2, 4, 1)
    expected = np.round(values.astype(np.float64) / 65535 * 255)
    np.testing.assert_allclose(decoded[..., 0], expected, atol=1)


def test_dark_sixteen_bit_grayscale_is_still_scaled_from_65535():
    values = np.array([[0, 100, 200, 255]], np.uint16)
    decoded = images.decode_image(encode(Image.fromarray(values), "PNG"))
    np.testing.assert_allclose(decoded[..., 0], np.round(values / 65535 * 255), atol=1)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (48, 16))
    cmyk.paste((0, 0, 0, 0), (0, 0, 16, 16))  # white
    cmyk.paste((0, 0, 0, 255), (16, 0, 32, 16))  # black
    cmyk.paste((255, 0, 0, 0), (32, 0, 48, 16))  # cyan
    decoded = images.decode_image(encode(cmyk, "JPEG", quality=95))
    assert decoded.dtype == np.uint8 and decoded.shape == (16, 48, 3)
    for column, colour in ((4, (255, 255, 255)), (20, (0, 0, 0)), (40, (0, 255, 255))):
        assert np.abs(decoded[8, column].astype(int) - colour).max() <= 8, colour


def test_rgba_is_composited_over_black():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (255, 100, 0, 128)  # half transparent
    rgba[0, 1] = (10, 20, 30, 255)  # opaque
    rgba[0, 2] = (255, 255, 255, 0)  # invisible white
    rgba[1, :] = (200, 200, 200, 64)
    decoded = images.decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert decoded.dtype == np.uint8 and decoded.shape == (2, 3, 3)
    expected = rgba[..., :3].astype(np.float64) * rgba[..., 3:] / 255
    np.testing.assert_allclose(decoded, expected, atol=1)


def test_gray_with_alpha_stays_one_channel_over_black():
    decoded = images.decode_image(encode(Image.new("LA", (3, 2), (200, 128)), "PNG"))
    assert decoded.shape == (2, 3, 1)
    assert abs(int(decoded[0, 0, 0]) - round(200 * 128 / 255)) <= 1


def test_palette_png_with_transparency():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([255, 255, 255, 0, 255, 0, 10, 20, 30] + [0] * (256 * 3 - 9))
    palette.putpixel((1, 1), 1)
    palette.putpixel((2, 3), 2)
    decoded = images.decode_image(encode(palette, "PNG", transparency=0))
    assert decoded.dtype == np.uint8 and decoded.shape == (4, 4, 3)
    assert decoded[0, 0].tolist() == [0, 0, 0]  # transparent white -> black background
    assert decoded[1, 1].tolist() == [0, 255, 0]
    assert decoded[3, 2].tolist() == [10, 20, 30]


def test_animated_gif_takes_the_first_frame():
    frames = [
        Image.new("RGB", (8, 6), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    ]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    decoded = images.decode_image(data)
    assert decoded.dtype == np.uint8 and decoded.shape == (6, 8, 3)
    assert (decoded == np.array([255, 0, 0], np.uint8)).all()


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))],
)
def test_exif_orientation_is_applied(orientation, corner):
    """Stored 20x40 with a red top-left block; orientation 6 means 'rotate 90 degrees clockwise'."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = images.decode_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif))
    expected_shape = (40, 20, 3) if orientation in (6, 8) else (20, 40, 3)
    assert decoded.shape == expected_shape and decoded.dtype == np.uint8
    assert decoded[corner][0] > 200 and decoded[corner][1] < 40  # the red block is there
    assert decoded.astype(int)[..., 0].sum() < 255 * 120  # and only there (about 100 px)


def test_one_bit_png():
    bits = Image.new("1", (5, 4), 0)
    bits.putpixel((2, 1), 1)
    decoded = images.decode_image(encode(bits, "PNG"))
    assert decoded.shape == (4, 5, 1) and decoded.dtype == np.uint8
    assert decoded[1, 2, 0] == 255 and decoded.sum() == 255


# --------------------------------------------------------------------------- working images


def test_to_grayscale_uses_bt601_luma():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    gray = images.to_grayscale(rgb)
    assert gray.shape == (1, 4, 1) and gray.dtype == np.uint8
    assert gray[0, :, 0].tolist() == [76, 150, 29, 255]


def test_to_working_image_shapes_and_ranges():
    rgb = random_rgb(30, 20)
    gray = images.to_working_image(rgb, "grayscale", 64)
    assert gray.shape == (30, 20, 1) and gray.dtype == np.float32
    assert gray.min() >= 0.0 and gray.max() <= 1.0
    colour = images.to_working_image(rgb, "rgb", 64)
    np.testing.assert_allclose(colour, rgb / 255.0, atol=1e-7)
    one = np.full((5, 6, 1), 51, np.uint8)
    np.testing.assert_allclose(images.to_working_image(one, "rgb", 64), 0.2, atol=1e-7)
    assert images.to_working_image(one, "rgb", 64).shape == (5, 6, 3)


@pytest.mark.parametrize(
    ("shape", "max_side", "expected"),
    [
        ((300, 200, 3), 100, (100, 67)),
        ((200, 300, 1), 100, (67, 100)),
        ((1000, 10, 1), 50, (50, 1)),
        ((64, 64, 3), 64, (64, 64)),
        ((10, 12, 3), 256, (10, 12)),
    ],
)
def test_to_working_image_downscales_longest_side(shape, max_side, expected):
    image = np.full(shape, 128, np.uint8)
    mode = "rgb" if shape[2] == 3 else "grayscale"
    working = images.to_working_image(image, mode, max_side)
    assert working.shape[:2] == expected
    np.testing.assert_allclose(working, 128 / 255, atol=2 / 255)  # a flat image stays flat


def test_to_working_image_errors():
    with pytest.raises(ExplorerError, match="colour mode"):
        images.to_working_image(random_rgb(4, 4), "cmyk", 64)
    with pytest.raises(ExplorerError, match="no pixels"):
        images.to_working_image(np.zeros((0, 5, 3), np.uint8), "rgb", 64)


# --------------------------------------------------------------------------- MNIST-style digits


def ink_box(digit, threshold=0.1):
    rows, cols = np.nonzero(digit > threshold)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def stroke_canvas(kind, size=200):
    canvas = np.zeros((size, size), np.float32)
    if kind == "ring":
        rows, cols = np.mgrid[0:size, 0:size]
        radius = np.hypot(rows - 90, cols - 120)
        canvas[(radius > 30) & (radius < 45)] = 1.0
    elif kind == "bar":
        canvas[40:160, 95:110] = 1.0
    elif kind == "wide":
        canvas[100:130, 20:180] = 0.8
    elif kind == "seven":
        canvas[30:45, 50:150] = 1.0
        for row in range(45, 170):
            col = int(150 - (row - 45) * 0.5)
            canvas[row, col - 7 : col + 7] = 1.0
    return canvas


@pytest.mark.parametrize("kind", ["ring", "bar", "wide", "seven"])
def test_mnist_style_digit_geometry(kind):
    digit = images.mnist_style_digit(stroke_canvas(kind))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() <= 1.0
    assert 19 <= max(ink_box(digit)) <= 21
    mass_row, mass_col = ndimage.center_of_mass(digit)
    assert abs(mass_row - 13.5) <= 1.0 and abs(mass_col - 13.5) <= 1.0


def test_mnist_style_digit_accepts_a_channel_axis_and_small_inputs():
    small = np.zeros((10, 10, 1), np.float32)
    small[2:8, 4:6, 0] = 1.0
    digit = images.mnist_style_digit(small)
    assert digit.shape == (28, 28)
    assert max(ink_box(digit)) in (19, 20, 21)  # 6 px tall becomes about 20 px


def test_mnist_style_digit_without_ink_is_all_zeros():
    for blank in (np.zeros((50, 40)), np.full((28, 28), 0.05)):
        digit = images.mnist_style_digit(blank)
        assert digit.shape == (28, 28) and digit.dtype == np.float32
        assert not digit.any()


def test_looks_inverted():
    assert images.looks_inverted(np.full((4, 4), 0.9))
    assert not images.looks_inverted(np.full((4, 4), 0.1))


# --------------------------------------------------------------------------- normalisation


@FAST
@given(st.integers(2, 30), st.integers(2, 30), st.integers(0, 10**6))
def test_standardise_gives_zero_mean_unit_std_per_channel(height, width, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 256, (height, width, 3)).astype(np.float32)
    values[..., 2] = 17.0  # a constant channel is only centred
    out = images.standardise(values)
    assert out.dtype == np.float32 and out.shape == values.shape
    np.testing.assert_allclose(out.mean(axis=(0, 1)), 0.0, atol=1e-4)
    for channel in range(2):
        if values[..., channel].std() > 0:
            assert float(out[..., channel].std()) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_array_equal(out[..., 2], 0.0)


def test_normalisations_and_describe():
    values = np.array([[[0], [51], [255]]], np.uint8)
    np.testing.assert_allclose(images.rescale_to_unit(values)[0, :, 0], [0, 0.2, 1.0])
    raw = images.NORMALISATIONS["raw 0–255"](values)
    assert raw.dtype == np.float32 and raw.max() == 255
    stats = images.describe(np.array([1.0, 2.0, 3.0, 6.0]))
    assert stats == pytest.approx({"mean": 3.0, "std": np.sqrt(3.5), "min": 1.0, "max": 6.0})


# --------------------------------------------------------------------------- shifting


def rolled_reference(image, rows, cols):
    """np.roll, then zero the rows/columns that wrapped around."""
    height, width = image.shape[:2]
    out = np.roll(image, (rows, cols), axis=(0, 1)).copy()
    if abs(rows) >= height or abs(cols) >= width:
        return np.zeros_like(image)
    if rows > 0:
        out[:rows] = 0
    elif rows < 0:
        out[rows:] = 0
    if cols > 0:
        out[:, :cols] = 0
    elif cols < 0:
        out[:, cols:] = 0
    return out


@FAST
@given(st.integers(1, 12), st.integers(1, 12), st.data())
def test_shift_image_equals_roll_with_zeroed_wrap(height, width, data):
    rows = data.draw(st.integers(-height, height))
    cols = data.draw(st.integers(-width, width))
    image = np.arange(1, height * width * 2 + 1, dtype=np.float32).reshape(height, width, 2)
    shifted = images.shift_image(image, rows, cols)
    assert shifted.shape == image.shape and shifted.dtype == image.dtype
    np.testing.assert_array_equal(shifted, rolled_reference(image, rows, cols))


@pytest.mark.parametrize(("rows", "cols"), [(-7, 0), (0, -9), (-6, -6), (6, 0), (0, 8), (7, 7)])
def test_shift_image_beyond_the_image_gives_zeros(rows, cols):
    image = np.ones((5, 5, 1), np.float32)
    np.testing.assert_array_equal(images.shift_image(image, rows, cols), 0.0)


def png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_drawing_from_the_pad_decodes_to_its_luma():
    """The pad sends RGB(A) PNGs of white strokes on black; the lab gets one channel."""
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[2:6, 3, :3] = (255, 255, 255)
    rgba[7, 7, :3] = (255, 0, 0)
    drawing = images.decode_drawing(png_data_url(rgba), 8)
    assert drawing.shape == (8, 8, 1) and drawing.dtype == np.uint8
    assert (drawing[2:6, 3, 0] == 255).all()
    assert drawing[7, 7, 0] == round(0.299 * 255)  # BT.601 luma of pure red
    assert drawing.sum() == 4 * 255 + round(0.299 * 255)


@pytest.mark.parametrize(
    "message",
    [
        None,
        42,
        "",
        "data:image/png;base64,not base64!",
        "data:image/jpeg;base64,/9j/4AAQ",
        "data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(20)).decode(),
    ],
)
def test_a_drawing_that_is_not_a_png_data_url_is_refused(message):
    with pytest.raises(ExplorerError, match="drawing could not be read"):
        images.decode_drawing(message, 8)


def test_a_drawing_of_another_size_is_refused_before_decoding():
    """A forged message cannot make the server decode a large picture."""
    with pytest.raises(ExplorerError, match="drawing could not be read"):
        images.decode_drawing(png_data_url(np.zeros((9, 8), np.uint8)), 8)


def test_a_drawing_message_larger_than_any_png_of_the_pad_is_refused_unread(monkeypatch):
    """The size is judged from the text's length: nothing is decoded or opened."""
    monkeypatch.setattr(images, "decode_image", lambda *a, **k: pytest.fail("decoded"))
    monkeypatch.setattr(base64, "b64decode", lambda *a, **k: pytest.fail("base64-decoded"))
    huge = "data:image/png;base64," + "A" * (4 * (8 * 33 + 65_536) // 3 + 8)
    with pytest.raises(ExplorerError, match="drawing could not be read"):
        images.decode_drawing(huge, 8)


def test_the_largest_possible_png_of_the_pad_is_still_read():
    """An uncompressed (stored) RGBA PNG of the pad's size is within the size limit."""
    rgba = np.random.default_rng(0).integers(0, 256, (224, 224, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=0)
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert images.decode_drawing(url, 224).shape == (224, 224, 1)
