"""The lab registry: every page of the app, in teaching order, as one tuple of small records.

Navigation, the start page and the tests all read :data:`LABS` and :data:`HOME`; adding a
page is one entry here (and its file in ``pages/``). Icons are Streamlit Material icons
(``:material/name:``), which ship with Streamlit and need no emoji font.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    """One page of the app.

    Attributes:
        file: file name inside ``pages/``.
        name: the page's own heading, without its number (``"Convolution"``).
        icon: a Streamlit Material icon, ``":material/name:"``.
        blurb: one or two sentences for the start page.
    """

    file: str
    name: str
    icon: str
    blurb: str

    @property
    def url_path(self) -> str:
        """The page's address below the app's root: the file name without its leading
        number and ``.py`` (``"2_convolution.py"`` → ``"convolution"``)."""
        return re.sub(r"^\d+_", "", self.file.removesuffix(".py"))

    @property
    def heading(self) -> str:
        """The page's title with its icon, as Markdown for ``st.title``."""
        return f"{self.icon} {self.name}"


HOME = Lab(
    "home.py",
    "Start here",
    ":material/home:",
    "What CNN Explorer is and where each idea lives.",
)

LABS = (
    Lab(
        "1_image_as_numbers.py",
        "Image as numbers",
        ":material/grid_on:",
        "Pixels are numbers: hover the grid, zoom into a patch, split colour channels, "
        "normalise, and see why flattening an image into an MLP needs millions of weights.",
    ),
    Lab(
        "2_convolution.py",
        "Convolution",
        ":material/filter_center_focus:",
        "Kernels and feature maps: kernel size, stride, padding, dilation and filter count, "
        "the output-size formula, and every multiplication of the sliding window.",
    ),
    Lab(
        "3_activation_pooling.py",
        "Activation & pooling",
        ":material/compress:",
        "ReLU, leaky ReLU, sigmoid and tanh; max and average pooling; and what shifting a "
        "digit does to feature maps, pooled maps and one global maximum per map.",
    ),
    Lab(
        "4_frequency.py",
        "Frequency",
        ":material/graphic_eq:",
        "Low and high frequencies, low-/high-/band-pass filters, what each kernel does to "
        "the spectrum, and a live check that convolution is multiplication of spectra.",
    ),
    Lab(
        "learning.py",
        "How a network learns",
        ":material/school:",
        "One-hot targets, cross-entropy and squared error; one step of gradient descent with "
        "every number shown; learning rates too small, good and too large on the loss "
        "landscape; vanishing gradients; epochs, batches and iterations.",
    ),
    Lab(
        "5_train.py",
        "Train a CNN",
        ":material/model_training:",
        "Build a CNN (or an MLP) layer by layer, train it on real digits, shapes or your own "
        "pictures, watch the loss fall, and keep the best model.",
    ),
    Lab(
        "6_inspect.py",
        "Inspect a network",
        ":material/biotech:",
        "See every layer's activations for your own drawing, the learned filters, saliency, "
        "Grad-CAM and occlusion, the test set's mistakes, and what each unit wants.",
    ),
    Lab(
        "7_imagenet_gallery.py",
        "ImageNet gallery",
        ":material/history_edu:",
        "AlexNet, VGG-16, GoogLeNet and ResNet at full size, layer by layer: parameters, "
        "multiply-adds and what each changed, beside the ILSVRC error falling year by year.",
    ),
)
"""The labs in teaching order; a lab's number is its place in this tuple."""


def title(lab: Lab) -> str:
    """The page's title in navigation and on the start page: a lab's is numbered by its
    place in :data:`LABS` (``"2 · Convolution"``), the start page's is its name."""
    return lab.name if lab == HOME else f"{LABS.index(lab) + 1} · {lab.name}"


def by_file(file: str) -> Lab:
    """The page whose file name (or path ending in it) is ``file``.

    Raises:
        KeyError: no page has that file name.
    """
    name = file.replace("\\", "/").rsplit("/", 1)[-1]
    for lab in (HOME, *LABS):
        if lab.file == name:
            return lab
    raise KeyError(name)
