"""Classify image files with a saved checkpoint: ``python -m explorer.predict``.

Usage::

    python -m explorer.predict --checkpoint runs/NAME IMAGE [IMAGE ...]

prints one JSON line per image to stdout::

    {"image": PATH, "predicted_class": NAME, "probabilities": {NAME: P, ...}}

and, for an empty picture (blank, or a single pixel: see :func:`empty_input_note`), also
``"note": SENTENCE``, repeated on stderr as ``note: PATH: SENTENCE``: the answer to such
an input means nothing, as the Inspect page says beside it.

An image that cannot be read or decoded gives one line ``error: PATH: reason`` on
stderr; the remaining images are still answered and the exit status is 1 at the end.
A device (``/dev/zero``), a FIFO or a file over 50 MB is refused before it is read.

Each picture is prepared the way the checkpoint's dataset needs (see
:func:`prepare_image`): digits are inverted to white-on-black when their background
is lighter than their strokes, cropped, scaled to 20 px and centred by mass in
28×28 like MNIST; other grayscale datasets are inverted the same way and resized;
colour datasets are resized.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from PIL import Image

from explorer import explain
from explorer.checkpoints import Checkpoint, load_checkpoint
from explorer.data.registry import PREPROCESSINGS
from explorer.errors import ExplorerError
from explorer.files import read_regular_file
from explorer.images import (
    MAX_FILE_BYTES,
    decode_image,
    looks_inverted,
    mnist_style_digit,
    to_grayscale,
    to_rgb,
)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 (h, w, C) in [0, 1] → (height, width, C), bilinear."""
    planes = [
        np.asarray(
            Image.fromarray(image[..., c]).resize((width, height), Image.Resampling.BILINEAR)
        )
        for c in range(image.shape[-1])
    ]
    return np.stack(planes, axis=-1).astype(np.float32)


def white_on_black(image: np.ndarray) -> np.ndarray:
    """Grayscale float32 (H, W) in [0, 1], inverted if the background is lighter than the ink."""
    gray = to_grayscale(image)[..., 0].astype(np.float32) / 255.0
    return 1.0 - gray if looks_inverted(gray) else gray


BLANK_RANGE = 2
"""A picture whose pixel values (0-255) all lie within this many levels is blank."""


def empty_input_reason(image: np.ndarray) -> str | None:
    """Why a picture holds nothing to classify, or None when it holds something.

    ``image``: uint8 (H, W, C) as decoded. Empty means a single pixel, or every value
    within :data:`BLANK_RANGE` of the others (a blank picture). A network still gives
    such an input a confident-looking answer, which then means nothing.
    """
    if image.size == 0 or image.shape[0] * image.shape[1] <= 1:
        return "it has a single pixel"
    values = np.asarray(image, dtype=np.float32)
    if float(values.max() - values.min()) <= BLANK_RANGE:
        return "every pixel has the same value"
    return None


def empty_input_note(image: np.ndarray, class_name: str, confidence: float) -> str | None:
    """The sentence to show beside a prediction (``confidence`` in [0, 1] for
    ``class_name``) of an empty picture (see :func:`empty_input_reason`); None when the
    uint8 (H, W, C) ``image`` holds something. Shared by the CLI and the Inspect page."""
    reason = empty_input_reason(image)
    if reason is None:
        return None
    return (
        f"The input is empty ({reason}): there is nothing to recognise, so this "
        f"{confidence:.0%} for “{class_name}” means nothing."
    )


def prepare_image(
    image: np.ndarray, input_shape: tuple[int, int, int], preprocessing: str
) -> np.ndarray:
    """Turn a decoded picture into one model input.

    Args:
        image: uint8 (H, W, 1 or 3) as from :func:`explorer.images.decode_image`.
        input_shape: the model's (height, width, channels).
        preprocessing: "digit", "invert" or "resize" (``explorer.data.registry.PREPROCESSINGS``).

    Returns:
        float32 ``input_shape`` in [0, 1].

    Raises:
        ExplorerError: ``preprocessing`` is none of the three.
    """
    height, width, channels = input_shape
    if preprocessing == "digit":
        prepared = mnist_style_digit(white_on_black(image))[..., None]
    elif preprocessing == "invert":
        prepared = white_on_black(image)[..., None]
    elif preprocessing == "resize":
        converted = to_grayscale(image) if channels == 1 else to_rgb(image)
        prepared = converted.astype(np.float32) / 255.0
    else:
        raise ExplorerError(
            f"Unknown preprocessing {preprocessing!r}: use one of {', '.join(PREPROCESSINGS)}."
        )
    if prepared.shape[:2] != (height, width):
        prepared = _resize(prepared, height, width)
    if prepared.shape[-1] != channels:
        prepared = np.repeat(prepared, channels, axis=-1)
    return np.clip(prepared, 0.0, 1.0)


def classify(checkpoint: Checkpoint, image: np.ndarray) -> dict[str, float]:
    """Class name → probability for one decoded uint8 (H, W, C) picture."""
    x = prepare_image(image, checkpoint.spec.input_shape, checkpoint.preprocessing)
    probabilities = explain.probabilities(checkpoint.spec, checkpoint.variables, x[None])[0]
    return {name: float(p) for name, p in zip(checkpoint.class_names, probabilities, strict=True)}


DIGIT_WORKING_SIDE = 512
"""Digits are cropped to their ink before scaling to 20 px, so a picture is decoded with
both sides at least this large: a digit covering a twentieth of the page keeps 25 px."""


def working_side(input_shape: tuple[int, int, int], preprocessing: str) -> int:
    """The ``max_side`` to decode a picture with for :func:`prepare_image`."""
    return DIGIT_WORKING_SIDE if preprocessing == "digit" else max(input_shape[:2])


def predict_file(checkpoint: Checkpoint, path: str) -> dict:
    """The JSON-ready answer for one image file, with a ``note`` when the picture is empty
    (:func:`empty_input_note`).

    The file is read only if it is a plain file of at most
    :data:`explorer.images.MAX_FILE_BYTES` (never a device or a FIFO), and decoded
    straight toward the model's input size.

    Raises:
        ExplorerError: the file cannot be read or is not an image we can decode.
    """
    data = read_regular_file(path, MAX_FILE_BYTES)
    side = working_side(checkpoint.spec.input_shape, checkpoint.preprocessing)
    image = decode_image(data, max_side=side)
    probabilities = classify(checkpoint, image)
    predicted = max(probabilities, key=probabilities.get)
    answer = {"image": path, "predicted_class": predicted, "probabilities": probabilities}
    note = empty_input_note(image, predicted, probabilities[predicted])
    return answer if note is None else answer | {"note": note}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0 if every image was answered, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m explorer.predict", description="Classify images with a checkpoint."
    )
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint file")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    try:
        checkpoint = load_checkpoint(args.checkpoint)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failures = 0
    for path in args.images:
        try:
            answer = predict_file(checkpoint, path)
        except ExplorerError as error:
            failures += 1
            print(f"error: {path}: {error}", file=sys.stderr, flush=True)
            continue
        if "note" in answer:
            print(f"note: {path}: {answer['note']}", file=sys.stderr, flush=True)
        print(json.dumps(answer), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
