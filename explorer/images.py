"""Decode, validate, resize and normalise images; MNIST-style digit preprocessing.

Conventions: a decoded image is ``uint8`` of shape (H, W, C) with C = 1
(grayscale) or C = 3 (RGB). A working image is ``float32`` (H, W, C) in [0, 1].
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from explorer.errors import ExplorerError
from explorer.files import too_large

MAX_PIXELS = 25_000_000
"""Largest image (width x height) we agree to decode: guards against decompression bombs."""

MAX_FILE_BYTES = 50 * 1024 * 1024
"""Largest upload we agree to read."""

COLOUR_MODES = ("grayscale", "rgb")

DECODABLE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
"""The only Pillow formats we open. Each is decoded inside this process by a C library;
formats that Pillow hands to an external program (EPS/PS through Ghostscript, PDF) or
that are rarely needed are never tried, whatever the file's name or contents claim."""

READABLE_FORMATS_TEXT = "PNG, JPEG, GIF, BMP, WebP or TIFF"

UPLOAD_SUFFIXES = ("png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff")
"""File-name endings the upload widgets offer; the content still decides the format."""


@contextmanager
def _open_image(data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    """Open ``data`` as one of :data:`DECODABLE_FORMATS` after the size checks, with every
    Pillow error inside the ``with`` block turned into an :class:`ExplorerError`."""
    if not data:
        raise ExplorerError("The file is empty: there is no image in it.")
    if len(data) > MAX_FILE_BYTES:
        raise too_large(len(data), MAX_FILE_BYTES)
    try:
        with Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise ExplorerError(_too_large_message(width, height, max_pixels))
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield probe
    except ExplorerError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ExplorerError(f"The image is too large to open safely ({error}).") from error
    except UnidentifiedImageError as error:
        raise ExplorerError(
            f"This file is not an image we can read. Use {READABLE_FORMATS_TEXT}."
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ExplorerError(f"The image file is damaged or truncated ({error}).") from error


def _draft(probe: Image.Image, max_side: int | None) -> None:
    """Ask a JPEG to decode at the smallest scale of 1/2, 1/4 or 1/8 that keeps both sides
    at least ``max_side`` (other formats ignore the request)."""
    if max_side is not None:
        probe.draft(None, (max_side, max_side))


def decode_image(
    data: bytes, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> np.ndarray:
    """Decode an image file strictly into a uint8 array.

    Opens only :data:`DECODABLE_FORMATS` (PNG, JPEG, GIF (first frame), BMP, WebP
    and TIFF), identified by content; anything else, PostScript included, is refused
    before a byte of it is interpreted, so no external program ever runs. Grayscale, RGB, RGBA,
    palette, CMYK and 16-bit images; EXIF orientation is applied. Transparent
    pixels are composited over black (the background of a drawn digit).

    Args:
        data: the raw bytes of the file.
        max_pixels: refuse images with more pixels than this (width x height), judged
            from the header before anything is decoded.
        max_side: (positive) for callers that will shrink the picture to at most
            ``max_side`` pixels a side (a dataset image, a model input): a larger picture
            is then made smaller by whole factors as long as both of its sides stay at
            least ``max_side``, so the caller's own resize loses nothing. A JPEG is
            decoded straight at 1/2, 1/4 or 1/8 scale (Pillow's ``draft``) and never
            exists at full size; other formats are box-reduced (Pillow's ``reduce``)
            right after decoding, before any conversion copies them.

    Returns:
        uint8 array (H, W, 1) for grayscale input or (H, W, 3) for colour input.

    Raises:
        ExplorerError: empty, oversized, truncated or non-image data.
    """
    with _open_image(data, max_pixels) as probe:
        probe.seek(0)
        _draft(probe, max_side)
        probe.load()
        image = probe if max_side is None else _reduced(probe, max_side)
        ImageOps.exif_transpose(image, in_place=True)
        return _to_uint8_array(image, probe.mode)


PNG_DATA_URL_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_drawing(data_url: object, side: int) -> np.ndarray:
    """The drawing pad's picture, sent by the browser as a PNG data URL, as uint8
    (side, side, 1) grayscale.

    The browser is not trusted: only a base64 PNG of exactly side × side pixels is decoded
    (by :func:`decode_image`); anything else is refused before Pillow sees it.

    Raises:
        ExplorerError: not a PNG data URL, not base64, not a PNG, or not side × side.
    """
    refused = ExplorerError("The drawing could not be read: clear the pad and draw again.")
    if not isinstance(data_url, str) or not data_url.startswith(PNG_DATA_URL_PREFIX):
        raise refused
    encoded = data_url.removeprefix(PNG_DATA_URL_PREFIX)
    largest_png = side * (4 * side + 1) + 65_536  # RGBA rows stored uncompressed, + chunks
    if len(encoded) > 4 * (largest_png // 3 + 1):
        raise refused
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise refused from error
    if not data.startswith(PNG_SIGNATURE) or decoded_size(data) != (side, side):
        raise refused
    return to_grayscale(decode_image(data, max_pixels=side * side))


def decoded_size(
    data: bytes, max_side: int | None = None, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """(width, height) that :func:`decode_image` with the same arguments decodes at,
    from the header alone: the stored size, or a JPEG's reduced scale.

    Raises:
        ExplorerError: as :func:`decode_image` for data it would refuse by its header.
    """
    with _open_image(data, max_pixels) as probe:
        _draft(probe, max_side)
        return probe.size


def _too_large_message(width: int, height: int, max_pixels: int) -> str:
    return (
        f"The image is {width}×{height} = {width * height / 1e6:.1f} megapixels; "
        f"the limit is {max_pixels / 1e6:.0f} megapixels. Please use a smaller image."
    )


_REDUCIBLE_AS = {"1": "L", "P": "RGBA", "PA": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I"}
"""Modes whose values cannot be averaged as they are (palette indices, single bits,
packed 16-bit), and the mode :func:`_to_uint8_array` would read them as."""


def _reduced(image: Image.Image, max_side: int) -> Image.Image:
    """A loaded image box-reduced by the largest whole factor keeping both sides ≥ ``max_side``.

    The EXIF orientation is carried over, so it can still be applied afterwards.
    """
    factor = min(image.size) // max_side
    if factor < 2:
        return image
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    converted = image.convert(_REDUCIBLE_AS[image.mode]) if image.mode in _REDUCIBLE_AS else image
    reduced = converted.reduce(factor)
    if orientation is not None:
        reduced.getexif()[ExifTags.Base.Orientation] = orientation
    return reduced


def _to_uint8_array(image: Image.Image, source_mode: str) -> np.ndarray:
    """Convert any PIL mode to uint8 (H, W, 1) or (H, W, 3).

    ``source_mode`` is the file's own mode: a 16-bit file reduced as 32-bit "I" is
    still scaled from 65535.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image)
        sixteen_bit = source_mode.startswith("I;16") or values.max() > 255
        peak = 65535.0 if sixteen_bit else 255.0
        if image.mode == "F":
            peak = max(float(values.max()), 1.0)
        scaled = values.astype(np.float32)
        scaled *= np.float32(255.0 / peak)
        scaled += np.float32(0.5)
        np.clip(scaled, 0, 255, out=scaled)
        return scaled.astype(np.uint8)[..., None]
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        composited = Image.alpha_composite(background, rgba)
        image = composited.convert("L" if image.mode == "LA" else "RGB")
    if image.mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.uint8)[..., None]
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601) of an (H, W, C) image, keeping dtype range; returns (H, W, 1)."""
    if image.shape[-1] == 1:
        return image
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    luma = image[..., :3].astype(np.float32) @ weights
    if image.dtype == np.uint8:
        return np.clip(luma + 0.5, 0, 255).astype(np.uint8)[..., None]
    return luma[..., None].astype(image.dtype)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Repeat a one-channel (H, W, 1) image into (H, W, 3); RGB passes through."""
    return image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)


def resize_to_fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale a uint8 (H, W, C) image so its longer side is at most ``max_side``.

    Smaller images are returned unchanged (we never invent pixels).
    """
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    resized = np.asarray(pil.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
    return resized[..., None] if resized.ndim == 2 else resized


def to_working_image(image: np.ndarray, colour_mode: str, max_side: int) -> np.ndarray:
    """Prepare a decoded uint8 image for the labs.

    Args:
        image: uint8 (H, W, 1) or (H, W, 3).
        colour_mode: "grayscale" (one channel) or "rgb" (three channels).
        max_side: longest side after downscaling, in pixels.

    Returns:
        float32 (h, w, 1 or 3) in [0, 1].
    """
    if colour_mode not in COLOUR_MODES:
        raise ExplorerError(f"Unknown colour mode {colour_mode!r}; choose one of {COLOUR_MODES}.")
    if min(image.shape[:2]) < 1:
        raise ExplorerError("The image has no pixels.")
    converted = to_grayscale(image) if colour_mode == "grayscale" else to_rgb(image)
    return resize_to_fit(converted, max_side).astype(np.float32) / 255.0


def rescale_to_unit(values: np.ndarray) -> np.ndarray:
    """Map 0..255 pixel values to [0, 1] (min-max by the fixed range, not the data)."""
    return np.asarray(values, dtype=np.float32) / 255.0


def standardise(values: np.ndarray) -> np.ndarray:
    """Per-channel zero mean, unit variance over an (H, W, C) image.

    A constant channel is only centred (its standard deviation is 0).
    """
    values = np.asarray(values, dtype=np.float32)
    mean = values.mean(axis=(0, 1), keepdims=True)
    std = values.std(axis=(0, 1), keepdims=True)
    return (values - mean) / np.where(std > 0, std, 1.0)


def mnist_style_digit(gray: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Preprocess a white-on-black digit the way MNIST was made.

    Crop to the bounding box of the strokes, scale the longer side to 20 pixels
    (keeping the aspect ratio), and paste it into a 28×28 frame so that its
    centre of mass sits at the centre.

    Args:
        gray: float (H, W) or (H, W, 1) in [0, 1], strokes bright on dark.
        threshold: intensity above which a pixel counts as ink.

    Returns:
        float32 (28, 28) in [0, 1]; all zeros when there is no ink.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim == 3:
        gray = gray[..., 0]
    ink = np.argwhere(gray > threshold)
    if ink.size == 0:
        return np.zeros((28, 28), np.float32)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    crop = gray[top:bottom, left:right]
    scale = 20.0 / max(crop.shape)
    new_h, new_w = (max(1, round(side * scale)) for side in crop.shape)
    pil = Image.fromarray(np.clip(crop * 255.0, 0, 255).astype(np.uint8))
    digit = np.asarray(pil.resize((new_w, new_h), Image.Resampling.LANCZOS), np.float32) / 255.0
    frame = np.zeros((28, 28), np.float32)
    row0, col0 = (28 - new_h) // 2, (28 - new_w) // 2
    frame[row0 : row0 + new_h, col0 : col0 + new_w] = digit
    mass_row, mass_col = ndimage.center_of_mass(frame)
    shift = (round(13.5 - mass_row), round(13.5 - mass_col))
    return np.clip(ndimage.shift(frame, shift, order=0, mode="constant"), 0.0, 1.0)


def looks_inverted(gray: np.ndarray) -> bool:
    """True when an image is dark strokes on a light background (the mean is above half).

    MNIST digits are white on black; a scanned or photographed digit is usually
    the opposite and must be inverted before a digit model sees it.
    """
    return float(np.mean(gray)) > 0.5


def shift_image(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Translate an (H, W, C) image by whole pixels, filling with zeros (no wrap-around)."""
    shifted = np.zeros_like(image)
    height, width = image.shape[:2]
    if abs(rows) >= height or abs(cols) >= width:
        return shifted
    src_rows = slice(max(0, -rows), min(height, height - rows))
    dst_rows = slice(max(0, rows), min(height, height + rows))
    src_cols = slice(max(0, -cols), min(width, width - cols))
    dst_cols = slice(max(0, cols), min(width, width + cols))
    shifted[dst_rows, dst_cols] = image[src_rows, src_cols]
    return shifted


NORMALISATIONS = {
    "raw 0–255": lambda values: np.asarray(values, dtype=np.float32),
    "rescale to 0–1": rescale_to_unit,
    "standardise (mean 0, std 1)": standardise,
}
"""Named transforms of 0..255 pixel values, each (H, W, C) -> (H, W, C) float32."""


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation, minimum and maximum over all entries."""
    values = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def divide_by_peak(values: np.ndarray) -> np.ndarray:
    """``values`` divided by their largest magnitude, so they lie in [-1, 1] (in [0, 1] when
    none is negative) with the peak at ±1; all zeros stay zeros."""
    peak = float(np.max(np.abs(values), initial=0.0))
    return values / peak if peak > 0 else values
