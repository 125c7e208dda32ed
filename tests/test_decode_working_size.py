"""decode_image(..., max_side=N): a big picture is decoded straight toward the size a caller
needs (issue 13, part 3), and nothing else about decoding changes.

References are independent of the code under test: NumPy block means of the full decode
for the box reduction, and the pixel count Pillow's loader is asked to fill for the
JPEG reduced-scale decode.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from explorer import images
from explorer.errors import ExplorerError


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def block_means(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each factor x factor block of an (H, W, C) array whose sides divide by factor."""
    height, width, channels = array.shape
    blocks = array.astype(np.float64).reshape(
        height // factor, factor, width // factor, factor, channels
    )
    return blocks.mean(axis=(1, 3))


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP", "GIF"])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_lossless_picture_is_box_reduced_by_the_largest_whole_factor(fmt, mode):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (60, 90) if mode == "L" else (60, 90, 3), dtype=np.uint8)
    options = {"lossless": True} if fmt == "WEBP" else {}
    if fmt == "GIF":
        pixels = (pixels // 64 * 64).astype(np.uint8)  # few colours: the palette is exact
    data = encode(Image.fromarray(pixels), fmt, **options)
    full = images.decode_image(data)
    reduced = images.decode_image(data, max_side=12)  # 60 // 12 = 5 -> (12, 18)
    assert reduced.shape == (12, 18, full.shape[-1])
    np.testing.assert_allclose(reduced, block_means(full, 5), atol=1.0)


@pytest.mark.parametrize(("max_side", "expected"), [(60, (60, 90)), (31, (60, 90)), (30, (30, 45))])
def test_both_sides_stay_at_least_max_side(max_side, expected):
    data = encode(Image.new("RGB", (90, 60), (1, 2, 3)), "PNG")
    assert images.decode_image(data, max_side=max_side).shape[:2] == expected


def test_small_pictures_are_never_enlarged():
    data = encode(Image.new("L", (5, 3), 9), "PNG")
    np.testing.assert_array_equal(
        images.decode_image(data, max_side=100), images.decode_image(data)
    )


def test_a_big_jpeg_is_decoded_at_an_eighth_and_never_at_full_size(monkeypatch):
    sizes: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def spying_load(self):
        sizes.append(self.size)
        return real_load(self)

    data = encode(Image.new("RGB", (4000, 3000), (250, 120, 10)), "JPEG", quality=30)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    decoded = images.decode_image(data, max_side=28)
    assert set(sizes) == {(500, 375)}  # 1/8 of each side: 1/64 of the pixels
    assert images.decoded_size(data, max_side=28) == (500, 375)
    assert decoded.shape[:2] == (29, 39)  # reduced by 375 // 28 = 13, partial blocks kept
    assert np.abs(decoded.astype(int) - [250, 120, 10]).max() <= 6


def test_decoded_size_of_other_formats_is_the_stored_size():
    data = encode(Image.new("L", (400, 300)), "PNG")
    assert images.decoded_size(data, max_side=28) == (400, 300)
    with pytest.raises(ExplorerError, match="not an image"):
        images.decoded_size(b"plain text", max_side=28)


@pytest.mark.parametrize(
    ("orientation", "corner"), [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))]
)
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_survives_the_reduction(orientation, corner, fmt):
    stored = np.zeros((200, 400, 3), np.uint8)
    stored[:100, :100] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(stored), fmt, exif=exif)
    decoded = images.decode_image(data, max_side=25)
    tall = orientation in (6, 8)
    assert (decoded.shape[0] > decoded.shape[1]) == tall
    assert decoded[corner][0] > 200 and decoded[corner][1] < 40


def test_palette_pictures_average_colours_not_palette_indices():
    """Red (index 0) and blue (index 2) in a checkerboard; index 1, their average, is green."""
    palette = Image.new("P", (4, 4))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.putdata([0 if (x + y) % 2 == 0 else 2 for y in range(4) for x in range(4)])
    decoded = images.decode_image(encode(palette, "PNG"), max_side=2)
    assert decoded.shape == (2, 2, 3)
    np.testing.assert_allclose(decoded, np.full((2, 2, 3), [127.5, 0, 127.5]), atol=1)


def test_one_bit_pictures_average_to_gray():
    bits = Image.new("1", (4, 4))
    bits.putdata([255 if (x + y) % 2 == 0 else 0 for y in range(4) for x in range(4)])
    decoded = images.decode_image(encode(bits, "PNG"), max_side=2)
    np.testing.assert_allclose(decoded, 127.5, atol=1)


def test_sixteen_bit_pictures_are_still_scaled_from_65535_when_reduced():
    values = np.full((8, 8), 200, np.uint16)  # dark: every value would fit in 8 bits
    decoded = images.decode_image(encode(Image.fromarray(values), "PNG"), max_side=4)
    assert decoded.shape == (4, 4, 1)
    np.testing.assert_allclose(decoded, round(200 / 65535 * 255), atol=1)


def test_the_pixel_limit_still_judges_the_stored_size():
    data = encode(Image.new("L", (200, 100)), "PNG")
    with pytest.raises(ExplorerError, match="megapixels"):
        images.decode_image(data, max_pixels=19_999, max_side=10)
