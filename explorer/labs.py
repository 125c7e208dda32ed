"""The lab registry: every page of the app, in teaching order, as one tuple of small records.

Navigation, the start page and the tests all read :data:`LABS` and :data:`HOME`; adding a
page is one entry here (and its file in ``pages/``). Icons are Streamlit Material icons
(``:material/name:``), which ship with Streamlit and need no emoji font.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    """A ready-made link: one idea, shown in one lab with the settings that make it visible.

    Attributes:
        key: the lesson's name in the URL (``lesson=key``).
        title: what the lesson is about, for the start page.
        settings: ``(setting, text)`` pairs as the URL writes them (see
            ``explorer.ui.LINKED_SETTINGS``); settings left out are at their defaults.
        guidance: two or three sentences shown beside the lab's figure.
    """

    key: str
    title: str
    settings: tuple[tuple[str, str], ...]
    guidance: str


@dataclass(frozen=True)
class Lab:
    """One page of the app.

    Attributes:
        file: file name inside ``pages/``.
        name: the page's own heading, without its number (``"Convolution"``).
        icon: a Streamlit Material icon, ``":material/name:"``.
        blurb: one or two sentences for the start page.
        lessons: the ready-made lessons that open this lab.
    """

    file: str
    name: str
    icon: str
    blurb: str
    lessons: tuple[Lesson, ...] = ()

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
        (
            Lesson(
                "pixels",
                "A picture is a grid of numbers",
                (("sample_name", "MNIST digit 3"), ("working_size", "28")),
                "This digit is 28 × 28 pixels, one number each: 0 is black, 1 is white. "
                "Hover the grid to read a pixel, then zoom into a patch to see every number "
                "the network receives.",
            ),
        ),
    ),
    Lab(
        "2_convolution.py",
        "Convolution",
        ":material/filter_center_focus:",
        "Kernels and feature maps: kernel size, stride, padding, dilation and filter count, "
        "the output-size formula, and every multiplication of the sliding window.",
        (
            Lesson(
                "vertical-edges",
                "A filter that finds vertical edges",
                (
                    ("sample_name", "checkerboard (pattern)"),
                    ("working_size", "64"),
                    ("presets_wanted", "vertical edges"),
                    ("filter_count", "1"),
                ),
                "The kernel is −1 on its left column and +1 on its right: on a flat area the "
                "products cancel to 0, and across a dark-to-light step from left to right they "
                "add up. Vertical edges light up (or go dark, for light-to-dark); horizontal "
                "edges stay at 0.",
            ),
            Lesson(
                "stride-padding",
                "Stride and padding arithmetic",
                (
                    ("sample_name", "MNIST digit 7"),
                    ("working_size", "28"),
                    ("kernel_size", "5"),
                    ("stride", "2"),
                    ("padding_mode", "explicit"),
                    ("explicit_padding", "1"),
                ),
                "A 5 × 5 kernel with stride 2 and 1 pixel of zero padding on a 28 × 28 digit: "
                "the formula gives ⌊(28 + 2 − 5) / 2⌋ + 1 = 13 outputs per side. Change the "
                "stride or the padding and predict the new size before you look.",
            ),
        ),
    ),
    Lab(
        "3_activation_pooling.py",
        "Activation & pooling",
        ":material/compress:",
        "ReLU, leaky ReLU, sigmoid and tanh; max and average pooling; and what shifting a "
        "digit does to feature maps, pooled maps and one global maximum per map.",
        (
            Lesson(
                "pooling-invariance",
                "Pooling and invariance to small shifts",
                (("sample_name", "MNIST digit 4"), ("working_size", "28")),
                "Max pooling keeps the strongest response in each 2 × 2 window, so the pooled "
                "maps are a quarter of the size. Scroll to the translation demo: shift the "
                "digit by a pixel or two and compare how much the raw pixels, the feature "
                "maps, the pooled maps and each map's global maximum change.",
            ),
        ),
    ),
    Lab(
        "4_frequency.py",
        "Frequency",
        ":material/graphic_eq:",
        "Low and high frequencies, low-/high-/band-pass filters, what each kernel does to "
        "the spectrum, and a live check that convolution is multiplication of spectra.",
        (
            Lesson(
                "frequency",
                "Fine detail is high frequency",
                (
                    ("sample_name", "brick (texture)"),
                    ("mask_band", "low-pass"),
                    ("mask_shape", "ideal"),
                    ("cutoff", "0.1"),
                ),
                "Smooth areas live near the centre of the spectrum, fine detail and sharp "
                "edges far from it. This low-pass filter keeps only the lowest tenth of the "
                "frequencies: the bricks' mortar lines blur, and the hard edge of the ideal "
                "mask adds ripples (ringing). Switch the edge to gaussian to remove them.",
            ),
        ),
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
        (
            Lesson(
                "training",
                "Training: watch the loss fall",
                (("train_dataset", "mnist-5k"), ("preset", "tiny")),
                "A small CNN and 5,000 handwritten digits. Press Start training: each point of "
                "the loss curve is a batch of digits seen, and the validation accuracy says "
                "how well the network does on digits it never trained on.",
            ),
        ),
    ),
    Lab(
        "6_inspect.py",
        "Inspect a network",
        ":material/biotech:",
        "See every layer's activations for your own drawing, the learned filters, saliency, "
        "Grad-CAM and occlusion, the test set's mistakes, and what each unit wants.",
        (
            Lesson(
                "mistake",
                "Inspecting a mistake",
                (("inspect_model", "starter/digits-cnn"), ("inspect_view", "Test-set mistakes")),
                "Even a good network gets some digits wrong. The confusion matrix opens on its "
                "most common mistake and its test digits: press *Explain this one* under one "
                "to see why.",
            ),
        ),
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


LESSONS = tuple(lesson for lab in LABS for lesson in lab.lessons)
"""Every ready-made lesson, in teaching order."""


def lab_of(lesson: Lesson) -> Lab:
    """The lab a lesson opens."""
    return next(lab for lab in LABS if lesson in lab.lessons)


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
