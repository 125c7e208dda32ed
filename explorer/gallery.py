"""The ImageNet gallery: the ILSVRC winners' architectures at 224×224×3, and their story.

Each network is a :class:`explorer.model.ModelSpec` in the app's own model format,
counted by :func:`explorer.model.layer_table` from the description alone: nothing is
trained, downloaded or allocated. The descriptions follow the reference
implementations in torchvision (``torchvision/models/{alexnet,vgg,googlenet,resnet}.py``),
so their parameter counts must equal torchvision's published ``num_params`` exactly;
their multiply-adds are compared with torchvision's published ``_ops`` (GFLOPS, which
torchvision counts as one per multiply-add) within 2% (tests/test_gallery.py).

Source of the reference figures: the ``IMAGENET1K_V1`` weight entries of torchvision
0.13 and later, ``meta["num_params"]`` and ``meta["_ops"]``
(https://pytorch.org/vision/stable/models.html, table "Classification").
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.architecture import (
    ConvBlock,
    DenseLayer,
    InceptionBlock,
    PoolBlock,
    ResidualBlock,
)
from explorer.model import ModelSpec, steps

IMAGENET_SHAPE = (224, 224, 3)
IMAGENET_CLASSES = 1000


def alexnet() -> ModelSpec:
    """AlexNet as in torchvision (the one-GPU variant of Krizhevsky, 2014, "One weird
    trick"): five ReLU convolutions with overlapping 3×3 max pooling at stride 2, then
    two dropout-regularised dense layers of 4096. torchvision's adaptive 6×6 average
    pooling is the identity at 224×224 and is left out."""
    return ModelSpec(
        IMAGENET_SHAPE,
        IMAGENET_CLASSES,
        (
            ConvBlock(64, 11, 4, 2, pool="none"),
            PoolBlock("max", 3, 2),
            ConvBlock(192, 5, 1, 2, pool="none"),
            PoolBlock("max", 3, 2),
            ConvBlock(384, 3, 1, 1, pool="none"),
            ConvBlock(256, 3, 1, 1, pool="none"),
            ConvBlock(256, 3, 1, 1, pool="none"),
            PoolBlock("max", 3, 2),
        ),
        (DenseLayer(4096, dropout=0.5), DenseLayer(4096, dropout=0.5)),
        name="AlexNet",
    )


def vgg16() -> ModelSpec:
    """VGG-16 (configuration D of Simonyan & Zisserman, 2015): 13 "same" 3×3 ReLU
    convolutions in five stages of 64, 128, 256, 512, 512 filters, 2×2 max pooling after
    each stage, then dense 4096 → 4096 → classes."""
    stages = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    blocks = tuple(
        ConvBlock(filters, pool="max" if last else "none")
        for filters, count in stages
        for last in [False] * (count - 1) + [True]
    )
    return ModelSpec(
        IMAGENET_SHAPE,
        IMAGENET_CLASSES,
        blocks,
        (DenseLayer(4096, dropout=0.5), DenseLayer(4096, dropout=0.5)),
        name="VGG-16",
    )


GOOGLENET_INCEPTIONS = {
    "3": ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),
    "4": (
        (192, 96, 208, 16, 48, 64),
        (160, 112, 224, 24, 64, 64),
        (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64),
        (256, 160, 320, 32, 128, 128),
    ),
    "5": ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),
}
"""GoogLeNet's inception blocks per stage: 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool
projection (Szegedy et al., 2015, Table 1)."""


def googlenet() -> ModelSpec:
    """GoogLeNet (Inception v1) as in torchvision, without the auxiliary classifiers: a
    7×7/2 stem, nine inception blocks, global average pooling and one dense layer.

    As torchvision (every conv with batch norm and no bias; 3×3 max pools at stride 2
    with ceil rounding, which gives the same sizes as "same" padding here), including
    its known deviation from the paper: the "5×5" branch uses a 3×3 kernel
    (``wide_kernel=3``; see the comment in torchvision's googlenet.py).
    """
    stem = (
        ConvBlock(64, 7, 2, 3, pool="none", batch_norm=True),
        PoolBlock("max", 3, 2, "same"),
        ConvBlock(64, 1, pool="none", batch_norm=True),
        ConvBlock(192, 3, pool="none", batch_norm=True),
        PoolBlock("max", 3, 2, "same"),
    )
    blocks = list(stem)
    for stage, inceptions in GOOGLENET_INCEPTIONS.items():
        blocks += [InceptionBlock(*widths, wide_kernel=3) for widths in inceptions]
        if stage == "3":
            blocks.append(PoolBlock("max", 3, 2, "same"))
        elif stage == "4":
            blocks.append(PoolBlock("max", 2, 2, "same"))
    return ModelSpec(IMAGENET_SHAPE, IMAGENET_CLASSES, tuple(blocks), head="gap", name="GoogLeNet")


def resnet(depth: int) -> ModelSpec:
    """ResNet-18 or ResNet-50 (He et al., 2016) as in torchvision: a 7×7/2 conv stem with
    batch norm, 3×3/2 max pooling, four stages of residual blocks (64, 128, 256, 512
    filters; the first block of stages 2–4 halves the size), global average pooling
    and one dense layer. ResNet-50 uses bottleneck blocks with the stride on the 3×3
    convolution ("ResNet v1.5")."""
    counts, bottleneck = {18: ((2, 2, 2, 2), False), 50: ((3, 4, 6, 3), True)}[depth]
    blocks = [
        ConvBlock(64, 7, 2, 3, pool="none", batch_norm=True),
        PoolBlock("max", 3, 2, 1),
    ]
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            blocks.append(ResidualBlock(filters, stride, bottleneck))
    return ModelSpec(
        IMAGENET_SHAPE, IMAGENET_CLASSES, tuple(blocks), head="gap", name=f"ResNet-{depth}"
    )


@dataclass(frozen=True)
class Architecture:
    """One gallery entry: its spec, the year it won or placed in ILSVRC, what it changed,
    and torchvision's published parameter count and multiply-adds (in billions)."""

    spec: ModelSpec
    year: int
    change: str
    reference_params: int
    reference_gmacs: float


ARCHITECTURES = (
    Architecture(
        alexnet(),
        2012,
        "ReLU instead of saturating tanh made a deep CNN quick to train on GPUs, and "
        "dropout in the big dense layers kept it from memorising the training set.",
        61_100_840,
        0.714,
    ),
    Architecture(
        vgg16(),
        2014,
        "Only small 3×3 convolutions, stacked: two of them see a 5×5 window with fewer "
        "weights than one 5×5 and an extra ReLU between, so depth grew to 16 layers.",
        138_357_544,
        15.47,
    ),
    Architecture(
        googlenet(),
        2014,
        "Inception blocks look at 1×1, 3×3 and 5×5 windows and a pooled view side by side, "
        "with 1×1 bottleneck convolutions to keep them cheap, and global average pooling "
        "replaces the huge dense layers.",
        6_624_904,
        1.498,
    ),
    Architecture(
        resnet(18),
        2015,
        "Residual connections add each block's input to its output, so signals and "
        "gradients can skip blocks and networks of 18 to 152 layers still train.",
        11_689_512,
        1.814,
    ),
    Architecture(
        resnet(50),
        2015,
        "Bottleneck residual blocks (1×1 to narrow, 3×3, 1×1 to widen) make a 50-layer "
        "network cost about as much as a much shallower one.",
        25_557_032,
        4.089,
    ),
)


@dataclass(frozen=True)
class Totals:
    """Whole-network figures: trainable parameters, multiply-adds per image, and depth
    (layers with weights on the longest path)."""

    params: int
    macs: int
    depth: int


def totals(spec: ModelSpec) -> Totals:
    """The :class:`Totals` of ``spec``, summed over its steps."""
    walk = steps(spec)
    return Totals(
        sum(step.params for step in walk),
        sum(step.macs for step in walk),
        sum(step.depth for step in walk),
    )


@dataclass(frozen=True)
class Winner:
    """An ILSVRC classification winner: year, team, model and top-5 test error (%)."""

    year: int
    team: str
    model: str
    top5_error: float
    source: str


RUSSAKOVSKY = (
    "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 115 "
    "(2015), Table 7 (classification winners, flat top-5 error)"
)
ILSVRC_WINNERS = (
    Winner(2010, "NEC-UIUC", "SIFT/LBP features, sparse coding, SVM", 28.2, RUSSAKOVSKY),
    Winner(2011, "XRCE", "Fisher vectors, linear SVM", 25.8, RUSSAKOVSKY),
    Winner(
        2012,
        "SuperVision",
        "AlexNet",
        15.3,
        "Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks, "
        "NeurIPS 2012, Table 2 (7 CNNs, two pre-trained on ImageNet Fall 2011; 16.4% without)",
    ),
    Winner(2013, "Clarifai", "ZFNet-style CNN ensemble", 11.7, RUSSAKOVSKY),
    Winner(2014, "GoogLeNet", "GoogLeNet (Inception v1)", 6.7, RUSSAKOVSKY),
    Winner(
        2015,
        "MSRA",
        "ResNet ensemble",
        3.57,
        "He et al., Deep Residual Learning for Image Recognition, CVPR 2016, Table 5",
    ),
    Winner(
        2016,
        "Trimps-Soushen",
        "ensemble of Inception/ResNet models",
        2.99,
        "ILSVRC 2016 results, image-net.org/challenges/LSVRC/2016/results (0.02991)",
    ),
    Winner(
        2017,
        "WMW",
        "SENet (squeeze-and-excitation)",
        2.25,
        "Hu et al., Squeeze-and-Excitation Networks, CVPR 2018, Section 6 (2.251%)",
    ),
)
"""ILSVRC classification winners' top-5 error on the test set, 2010–2017."""


_UNITS = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def short_count(value: float) -> str:
    """A count in three significant digits with a unit: 61,100,840 → "61.1 M",
    714,000,000 → "714 M", 15,470,000,000 → "15.5 G", 512 → "512"."""
    for size, unit in _UNITS:
        if abs(value) >= size * 0.9995:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g}"


SUMMARY_HELP = {
    "depth": "Layers with weights on the longest path.",
    "multiply-adds": "Multiply-adds per 224×224×3 image.",
    "torchvision": "torchvision's published parameters · multiply-adds (IMAGENET1K_V1).",
}
"""The tooltips of :func:`summary_rows`' shortened column names."""


def summary_rows(entries: tuple[Architecture, ...] = ARCHITECTURES) -> list[dict[str, str]]:
    """One short row per network for a table that fits a 1366-pixel screen: name, year,
    depth, parameters and multiply-adds (:func:`short_count`), and torchvision's published
    figures in one column."""
    rows = []
    for entry in entries:
        total = totals(entry.spec)
        reference = (short_count(entry.reference_params), short_count(entry.reference_gmacs * 1e9))
        rows.append(
            {
                "network": entry.spec.name,
                "year": str(entry.year),
                "depth": str(total.depth),
                "parameters": short_count(total.params),
                "multiply-adds": short_count(total.macs),
                "torchvision": " · ".join(reference),
            }
        )
    return rows
