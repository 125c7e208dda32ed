"""Layer kinds as data: each kind of block described once, and the output-size arithmetic.

A network is a sequence of blocks (a :class:`ConvBlock`, a :class:`PoolBlock`, a
:class:`ResidualBlock`, an :class:`InceptionBlock`), then a head (flatten or global
average pooling, :data:`HEADS`), then :class:`DenseLayer` s. Every kind says, in one
class, everything the rest of the app needs to know about it:

- ``KIND``, ``TITLE``, ``SUMMARY`` and ``EDITOR_COLUMNS``: its name in a saved
  description, its display name, what it computes in a line, and the fields the Train
  page's layer editor shows for it;
- ``check(where)``: its settings, refused with a message for people;
- ``steps(index, shape)``: what it computes, as :class:`Step` s — each step's output
  shape, trainable parameters, multiply-adds and FLOPs, the window it adds to the
  receptive field, and whether it is a row of the layer table and a recorded stage of
  the forward pass. The layer table, the stage list, Inspect's receptive-field walk
  and the spec's validation all read these steps;
- ``build(net, index, x, train)``: the layer itself, made of the network's primitive
  layers (``net.conv``, ``net.batch_norm``, ``net.pool``), each of which exists both as
  the standard Flax layer and as the training fast path of :mod:`explorer.layers`
  (``ModelSpec.layer_impl`` picks one). ``build`` records exactly the stages its
  ``steps`` list.

A new kind is one class here plus its entry in :data:`KINDS`.

The output-size formulas (:func:`output_size`, :func:`same_padding`,
:func:`padding_pair`) live here too; :mod:`explorer.ops` and :mod:`explorer.model` use
them. So does the walk through a whole network description (:func:`steps`), which the
layer table, the forward pass's stages and the model budget (:mod:`explorer.budget`) read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from explorer.errors import ExplorerError

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "leaky_relu": nn.leaky_relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "linear": lambda x: x,
}
POOLINGS = ("none", "max", "average")
RENAMED_POOLINGS = {"avg": "average"}
"""Pooling names that older checkpoints saved, and the names they read back as."""
WORDS = {
    "linear": "none (linear)",
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}
"""How the activations of the labs and of training are named to people."""
PADDINGS = ("same", "valid")

Window = tuple[int, int, int]
"""One receptive-field step along an axis: (kernel, stride, zero pixels before)."""


def output_size(size: int, kernel: int, stride: int, padding_total: int, dilation: int = 1) -> int:
    """Output length along one axis: floor((n + p − d·(k − 1) − 1) / s) + 1.

    ``padding_total`` is the padding of both sides together. The result can be zero or
    negative for impossible settings; callers turn that into a message.
    """
    effective_kernel = dilation * (kernel - 1) + 1
    return (size + padding_total - effective_kernel) // stride + 1


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Padding (before, after) that gives ceil(n / s) outputs, as ``lax`` and TensorFlow do.

    Any odd leftover goes after, which matches PyTorch's ``padding="same"`` at stride 1.
    """
    effective_kernel = dilation * (kernel - 1) + 1
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + effective_kernel - size, 0)
    return total // 2, total - total // 2


def padding_pair(padding: str | int, size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Zero pixels (before, after) along an axis of length ``size`` for a padding setting:
    "valid" (none), "same" (ceil(size / stride) outputs) or a number added on each side."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same_padding(size, kernel, stride)
    return int(padding), int(padding)


def _padded_output(padding: str | int, size: int, kernel: int, stride: int) -> int:
    return output_size(size, kernel, stride, sum(padding_pair(padding, size, kernel, stride)))


@dataclass(frozen=True)
class Step:
    """One computation of a block, as the layer table and the forward-pass stages see it.

    Attributes:
        key: the recorded stage's name (the model stores it as ``{key}_out``), e.g. "conv3".
        title: readable stage name, e.g. "block 3 · convolution".
        kind: the layer table's kind column, e.g. "conv", "max pool", "residual".
        shape: output shape per image, (H, W, C) or (D,).
        params: trainable parameters (batch-norm running statistics are not trainable).
        macs: multiply-adds of its convolutions and dense layers, per image.
        flops: floating-point operations per image, forward: 2 per multiply-add, 4 per
            batch-normalised value, 1 per pooling-window position or added value.
        windows: receptive-field steps (kernel, stride, pixels before) along the longest
            path through it; empty when it keeps the window.
        detail: settings in words for the table.
        row: a row of the layer table.
        feature: the output maps of a block (Grad-CAM, top images and unit preferences use
            them; the model can perturb them).
        ascent_source: the stage to maximise for "what a unit wants" (the values before
            the activation, so that a unit that starts switched off still has a gradient).
        sees_everything: each output sees the whole input (dense layers, global pooling).
        depth: layers with weights (convolutions, dense) on its longest path, as a
            network's depth is counted ("ResNet-50").
    """

    key: str
    title: str
    kind: str
    shape: tuple[int, ...]
    params: int = 0
    macs: int = 0
    flops: int = 0
    windows: tuple[Window, ...] = ()
    detail: str = ""
    row: bool = True
    feature: bool = False
    ascent_source: str | None = None
    sees_everything: bool = False
    depth: int = 0


def _conv_counts(kernel: int, c_in: int, c_out: int, shape: tuple[int, int, int], bias: bool):
    """(parameters, multiply-adds) of a kernel×kernel convolution with output ``shape``."""
    weights = kernel * kernel * c_in * c_out
    return weights + (c_out if bias else 0), weights * shape[0] * shape[1]


def word(name: str) -> str:
    """The name shown to people for an activation (see :data:`WORDS`); any other value as
    it is (pooling kinds, paddings and heads are words already)."""
    return WORDS.get(name, name)


def _check_activation(where: str, activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ExplorerError(
            f"{where}: unknown activation {activation!r}; use one of {tuple(ACTIVATIONS)}."
        )


def _check_dropout(where: str, dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ExplorerError(f"{where}: dropout must be in [0, 1).")


def _check_padding(where: str, padding: str | int) -> None:
    if padding not in PADDINGS and not (isinstance(padding, int) and padding >= 0):
        raise ExplorerError(f"{where}: padding must be 'same', 'valid' or a number ≥ 0.")


def _check_counts(where: str, block: Any, names: tuple[str, ...]) -> None:
    if any(getattr(block, name) < 1 for name in names):
        raise ExplorerError(f"{where}: {', '.join(names)} must be at least 1.")


def _batch_norm_step(key: str, title: str, shape: tuple[int, int, int]) -> Step:
    return Step(key, title, "batch norm", shape, 2 * shape[2], 0, 4 * math.prod(shape))


@dataclass(frozen=True)
class ConvArgs:
    """What a primitive convolution needs: filters, kernel side, stride, padding, bias."""

    filters: int
    kernel_size: int
    stride: int = 1
    padding: str | int = "same"
    use_bias: bool = True


@dataclass(frozen=True)
class ConvBlock:
    """One convolution block: conv → [batch norm] → activation → [pool] → [dropout].

    ``padding`` is "same" (output size ceil(in / stride)), "valid" (no padding) or a
    number of zero pixels added on every side. Pooling windows are square and do not
    overlap (stride = ``pool_size``); leftover rows/columns are dropped. With batch
    norm the convolution has no bias (batch norm's shift replaces it).
    """

    filters: int
    kernel_size: int = 3
    stride: int = 1
    padding: str | int = "same"
    activation: str = "relu"
    pool: str = "max"
    pool_size: int = 2
    batch_norm: bool = False
    dropout: float = 0.0

    KIND: ClassVar[str] = "conv"
    TITLE: ClassVar[str] = "Convolution"
    SUMMARY: ClassVar[str] = "conv → [batch norm] → activation → [pool] → [dropout]"
    EDITOR_COLUMNS: ClassVar[tuple[str, ...]] = (
        "filters",
        "kernel_size",
        "stride",
        "padding",
        "activation",
        "pool",
        "pool_size",
        "batch_norm",
        "dropout",
    )

    def check(self, where: str) -> None:
        """Raise :class:`ExplorerError` naming ``where`` for a setting out of range."""
        _check_counts(where, self, ("filters", "kernel_size", "stride", "pool_size"))
        _check_padding(where, self.padding)
        _check_activation(where, self.activation)
        _check_dropout(where, self.dropout)
        if self.pool not in POOLINGS:
            raise ExplorerError(f"{where}: pooling must be one of {POOLINGS}.")

    def steps(self, index: int, shape: tuple[int, int, int]) -> list[Step]:
        """conv{index}, [bn{index}], act{index} (not a table row), [pool{index}]."""
        out, params, macs, flops, window = _conv_step_counts(self._conv_args(), shape, False)
        k, block = self.kernel_size, f"block {index} · "
        detail = f"{k}×{k}, stride {self.stride}, padding {self.padding}, {word(self.activation)}"
        steps = [
            Step(
                f"conv{index}",
                block + "convolution",
                "conv",
                out,
                params,
                macs,
                flops,
                (window,),
                detail,
                depth=1,
            )
        ]
        if self.batch_norm:
            steps.append(_batch_norm_step(f"bn{index}", block + "batch norm", out))
        steps.append(
            Step(
                f"act{index}",
                block + "activation",
                "activation",
                out,
                row=False,
                feature=True,
                ascent_source=steps[-1].key,
            )
        )
        if self.pool != "none":
            size = self.pool_size
            pooled, flops = _pool_counts(size, size, "valid", out)
            steps.append(
                Step(
                    f"pool{index}",
                    block + "pooling",
                    f"{self.pool} pool",
                    pooled,
                    0,
                    0,
                    flops,
                    ((size, size, 0),),
                    f"{size}×{size}",
                )
            )
        return steps

    def build(self, net: Any, index: int, x: jax.Array, train: bool) -> jax.Array:
        """The block on (N, H, W, C) through ``net``'s primitive layers; records its stages."""
        x = net.record(f"conv{index}", net.conv(f"conv{index}", self._conv_args(), x))
        if self.batch_norm:
            x = net.record(f"bn{index}", net.batch_norm(f"bn{index}", x, train))
        x = net.record(f"act{index}", net.perturb(f"act{index}", net.activate(self.activation, x)))
        if self.pool != "none":
            size = self.pool_size
            x = net.record(f"pool{index}", net.pool(self.pool, size, size, "valid", x))
        return net.dropout(self.dropout, x, train)

    def _conv_args(self) -> ConvArgs:
        return ConvArgs(
            self.filters, self.kernel_size, self.stride, self.padding, not self.batch_norm
        )


def _conv_step_counts(args: ConvArgs, shape: tuple[int, int, int], batch_norm: bool):
    """(output shape, parameters, multiply-adds, FLOPs, window) of a convolution on (H, W, C)
    ``shape``, with its batch norm if ``batch_norm``."""
    height, width, channels = shape
    k, stride = args.kernel_size, args.stride
    out = (
        _padded_output(args.padding, height, k, stride),
        _padded_output(args.padding, width, k, stride),
        args.filters,
    )
    params, macs = _conv_counts(k, channels, args.filters, out, args.use_bias)
    flops = 2 * macs
    if batch_norm:
        params, flops = params + 2 * args.filters, flops + 4 * math.prod(out)
    return out, params, macs, flops, (k, stride, padding_pair(args.padding, height, k, stride)[0])


def _pool_counts(size: int, stride: int, padding: str | int, shape: tuple[int, int, int]):
    """(output shape, FLOPs: one per window position) of pooling (H, W, C) ``shape``."""
    height, width, channels = shape
    out = (
        _padded_output(padding, height, size, stride),
        _padded_output(padding, width, size, stride),
        channels,
    )
    return out, math.prod(out) * size * size


@dataclass(frozen=True)
class PoolBlock:
    """Pooling on its own: ``pool_size``×``pool_size`` max or average windows at ``stride``,
    which may overlap (AlexNet's 3×3 windows at stride 2), with "valid", "same" or
    explicit zero padding (−∞ for max pooling)."""

    pool: str = "max"
    pool_size: int = 3
    stride: int = 2
    padding: str | int = "valid"

    KIND: ClassVar[str] = "pool"
    TITLE: ClassVar[str] = "Pooling"
    SUMMARY: ClassVar[str] = "max or average pooling whose windows may overlap"
    EDITOR_COLUMNS: ClassVar[tuple[str, ...]] = ("pool", "pool_size", "stride", "padding")

    def check(self, where: str) -> None:
        """Raise :class:`ExplorerError` naming ``where`` for a setting out of range."""
        _check_counts(where, self, ("pool_size", "stride"))
        _check_padding(where, self.padding)
        if self.pool not in POOLINGS[1:]:
            raise ExplorerError(f"{where}: pooling must be one of {POOLINGS[1:]}.")

    def steps(self, index: int, shape: tuple[int, int, int]) -> list[Step]:
        """pool{index}."""
        size, stride = self.pool_size, self.stride
        out, flops = _pool_counts(size, stride, self.padding, shape)
        before = padding_pair(self.padding, shape[0], size, stride)[0]
        return [
            Step(
                f"pool{index}",
                f"block {index} · pooling",
                f"{self.pool} pool",
                out,
                0,
                0,
                flops,
                ((size, stride, before),),
                f"{size}×{size}, stride {stride}, padding {self.padding}",
            )
        ]

    def build(self, net: Any, index: int, x: jax.Array, train: bool) -> jax.Array:
        """The pooling on (N, H, W, C); records pool{index}."""
        pooled = net.pool(self.pool, self.pool_size, self.stride, self.padding, x)
        return net.record(f"pool{index}", pooled)


@dataclass(frozen=True)
class ResidualBlock:
    """A residual block (He et al., 2016): a path of convolutions with batch norm, plus
    a shortcut, then the activation: ``act(path(x) + shortcut(x))``.

    Basic (ResNet-18/34): 3×3 conv (``stride``) → BN → act → 3×3 conv → BN, ``filters``
    channels out. Bottleneck (ResNet-50): 1×1 conv → BN → act → 3×3 conv (``stride``)
    → BN → act → 1×1 conv → BN, ``4 · filters`` channels out. The shortcut is the input
    itself (identity) or, when the stride or the channel count changes, a 1×1 conv with
    that stride and batch norm (the projection). Convolutions have no bias.
    """

    filters: int
    stride: int = 1
    bottleneck: bool = False
    activation: str = "relu"

    KIND: ClassVar[str] = "residual"
    TITLE: ClassVar[str] = "Residual"
    SUMMARY: ClassVar[str] = (
        "3×3 conv → BN → act → 3×3 conv → BN, plus the input (a 1×1 conv when the shape "
        "changes), → act; bottleneck: 1×1 → 3×3 → 1×1 (4× filters out)"
    )
    EDITOR_COLUMNS: ClassVar[tuple[str, ...]] = ("filters", "stride", "bottleneck", "activation")
    EXPANSION: ClassVar[int] = 4

    def check(self, where: str) -> None:
        """Raise :class:`ExplorerError` naming ``where`` for a setting out of range."""
        _check_counts(where, self, ("filters", "stride"))
        _check_activation(where, self.activation)

    @property
    def out_channels(self) -> int:
        """Channels out: ``filters``, or ``4 · filters`` for a bottleneck."""
        return self.filters * (self.EXPANSION if self.bottleneck else 1)

    def path(self) -> list[ConvArgs]:
        """The convolutions of the residual path, in order."""
        f, s = self.filters, self.stride
        if self.bottleneck:
            return [
                ConvArgs(f, 1, 1, 0, False),
                ConvArgs(f, 3, s, 1, False),
                ConvArgs(self.out_channels, 1, 1, 0, False),
            ]
        return [ConvArgs(f, 3, s, 1, False), ConvArgs(f, 3, 1, 1, False)]

    def projection(self, channels: int) -> ConvArgs | None:
        """The shortcut's 1×1 convolution for ``channels`` inputs, or None (identity)."""
        if self.stride == 1 and channels == self.out_channels:
            return None
        return ConvArgs(self.out_channels, 1, self.stride, 0, False)

    def steps(self, index: int, shape: tuple[int, int, int]) -> list[Step]:
        """res{index} (path + shortcut, a table row), act{index} (its output maps)."""
        current, params, macs, flops, windows = shape, 0, 0, 0, []
        for args in self.path():
            current, p, m, f, window = _conv_step_counts(args, current, True)
            params, macs, flops = params + p, macs + m, flops + f
            windows.append(window)
        projection = self.projection(shape[2])
        if projection is not None:
            _, p, m, f, _ = _conv_step_counts(projection, shape, True)
            params, macs, flops = params + p, macs + m, flops + f
        kernels = "→".join(f"{args.kernel_size}×{args.kernel_size}" for args in self.path())
        shortcut = "identity" if projection is None else "1×1 projection"
        detail = f"{kernels}, stride {self.stride}, + {shortcut}, {word(self.activation)}"
        block = f"block {index} · "
        return [
            Step(
                f"res{index}",
                block + "path + shortcut",
                "residual",
                current,
                params,
                macs,
                flops + math.prod(current),
                tuple(windows),
                detail,
                depth=len(self.path()),
            ),
            Step(
                f"act{index}",
                block + "activation",
                "activation",
                current,
                row=False,
                feature=True,
                ascent_source=f"res{index}",
            ),
        ]

    def build(self, net: Any, index: int, x: jax.Array, train: bool) -> jax.Array:
        """The block on (N, H, W, C); records res{index} and act{index}."""
        name = f"res{index}"
        shortcut, projection = x, self.projection(x.shape[-1])
        if projection is not None:
            shortcut = net.conv(f"{name}_proj", projection, x)
            shortcut = net.batch_norm(f"{name}_proj_bn", shortcut, train)
        path = self.path()
        for number, args in enumerate(path, start=1):
            x = net.batch_norm(
                f"{name}_bn{number}", net.conv(f"{name}_conv{number}", args, x), train
            )
            if number < len(path):
                x = net.activate(self.activation, x)
        x = net.record(name, x + shortcut)
        return net.record(
            f"act{index}", net.perturb(f"act{index}", net.activate(self.activation, x))
        )


@dataclass(frozen=True)
class InceptionBlock:
    """An inception block (Szegedy et al., 2015): four parallel branches on the same
    input, their maps concatenated along channels (the spatial size is kept):

    1×1 conv (``ones``) | 1×1 (``reduce3``) → 3×3 (``threes``) | 1×1 (``reduce5``) →
    ``wide_kernel``×``wide_kernel`` (``fives``) | 3×3 max pool (stride 1) → 1×1
    (``pool_proj``). Every conv is followed by [batch norm] and the activation. The 1×1
    "reduce" convolutions are the bottlenecks that keep the wide kernels cheap.
    """

    ones: int
    reduce3: int
    threes: int
    reduce5: int
    fives: int
    pool_proj: int
    wide_kernel: int = 5
    batch_norm: bool = True
    activation: str = "relu"

    KIND: ClassVar[str] = "inception"
    TITLE: ClassVar[str] = "Inception"
    SUMMARY: ClassVar[str] = (
        "parallel 1×1 | 1×1→3×3 | 1×1→5×5 | 3×3 max pool→1×1 branches, concatenated"
    )
    EDITOR_COLUMNS: ClassVar[tuple[str, ...]] = (
        "ones",
        "reduce3",
        "threes",
        "reduce5",
        "fives",
        "pool_proj",
        "wide_kernel",
        "batch_norm",
        "activation",
    )
    POOL: ClassVar[tuple[int, int, str]] = (3, 1, "same")
    """The pool branch's window, stride and padding."""

    def check(self, where: str) -> None:
        """Raise :class:`ExplorerError` naming ``where`` for a setting out of range."""
        names = ("ones", "reduce3", "threes", "reduce5", "fives", "pool_proj", "wide_kernel")
        _check_counts(where, self, names)
        _check_activation(where, self.activation)

    @property
    def out_channels(self) -> int:
        """Channels out: the branches' together."""
        return self.ones + self.threes + self.fives + self.pool_proj

    def branches(self) -> list[list[ConvArgs]]:
        """Each branch's convolutions ("same" padding, stride 1); the last is the pool's."""
        bias = not self.batch_norm
        return [
            [ConvArgs(self.ones, 1, use_bias=bias)],
            [ConvArgs(self.reduce3, 1, use_bias=bias), ConvArgs(self.threes, 3, use_bias=bias)],
            [
                ConvArgs(self.reduce5, 1, use_bias=bias),
                ConvArgs(self.fives, self.wide_kernel, use_bias=bias),
            ],
            [ConvArgs(self.pool_proj, 1, use_bias=bias)],
        ]

    def steps(self, index: int, shape: tuple[int, int, int]) -> list[Step]:
        """inc{index}: the concatenated branches (a table row and the block's maps)."""
        params, macs, flops, widest = 0, 0, 0, max(3, self.wide_kernel)
        for number, branch in enumerate(self.branches()):
            current = shape
            if number == len(self.branches()) - 1:
                flops += _pool_counts(*self.POOL, shape)[1]
            for args in branch:
                current, p, m, f, _ = _conv_step_counts(args, current, self.batch_norm)
                params, macs, flops = params + p, macs + m, flops + f
        out = (shape[0], shape[1], self.out_channels)
        before = padding_pair("same", shape[0], widest, 1)[0]
        detail = (
            f"1×1 {self.ones} | 3×3 {self.reduce3}→{self.threes} | "
            f"{self.wide_kernel}×{self.wide_kernel} {self.reduce5}→{self.fives} | "
            f"pool→{self.pool_proj}"
        )
        return [
            Step(
                f"inc{index}",
                f"block {index} · inception (branches concatenated)",
                "inception",
                out,
                params,
                macs,
                flops,
                ((widest, 1, before),),
                detail,
                feature=True,
                depth=max(len(branch) for branch in self.branches()),
            )
        ]

    def build(self, net: Any, index: int, x: jax.Array, train: bool) -> jax.Array:
        """The block on (N, H, W, C); records inc{index}."""
        name, outputs = f"inc{index}", []
        for number, branch in enumerate(self.branches(), start=1):
            y = x if number < len(self.branches()) else net.pool("max", *self.POOL, x)
            for step, args in enumerate(branch, start=1):
                y = net.conv(f"{name}_b{number}_{step}", args, y)
                if self.batch_norm:
                    y = net.batch_norm(f"{name}_b{number}_{step}_bn", y, train)
                y = net.activate(self.activation, y)
            outputs.append(y)
        joined = jnp.concatenate(outputs, axis=-1)
        return net.record(name, net.perturb(name, joined))


KINDS: dict[str, type] = {
    kind.KIND: kind for kind in (ConvBlock, PoolBlock, ResidualBlock, InceptionBlock)
}
"""Every block kind by the name a saved model description gives it."""


def block_from_cells(kind: str, cells: dict, where: str) -> Any:
    """A block of ``kind`` from an editor row: its ``EDITOR_COLUMNS`` cells, blanks (None
    or "") taking the kind's defaults; a padding cell holds "same", "valid" or a number.

    Raises:
        ExplorerError: naming ``where`` when a kind is unknown or a needed cell is blank
        or not a number.
    """
    if kind not in KINDS:
        raise ExplorerError(f"{where}: unknown kind {kind!r}; use one of {tuple(KINDS)}.")
    block_type = KINDS[kind]
    types = {item.name: item.type for item in dataclasses.fields(block_type)}
    values = {}
    try:
        for name in block_type.EDITOR_COLUMNS:
            cell = cells.get(name)
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            values[name] = _cell_value(types[name], cell)
        return block_type(**values)
    except (TypeError, ValueError) as error:
        raise ExplorerError(f"{where}: fill in every number ({error}).") from None


def _cell_value(kind: str, cell: object) -> object:
    if kind == "bool":
        return bool(cell)
    if kind == "float":
        return float(cell)
    if kind == "int":
        return int(cell)
    text = str(cell).strip()
    return int(text) if text.isdigit() else text


@dataclass(frozen=True)
class DenseLayer:
    """A hidden fully connected layer: dense → activation → [dropout]."""

    units: int
    activation: str = "relu"
    dropout: float = 0.0

    def check(self, where: str) -> None:
        """Raise :class:`ExplorerError` naming ``where`` for a setting out of range."""
        if self.units < 1:
            raise ExplorerError(f"{where} needs at least one unit.")
        _check_activation(where, self.activation)
        _check_dropout(where, self.dropout)


def dense_step(key: str, title: str, features: int, units: int, activation: str) -> Step:
    """A dense layer from ``features`` inputs to ``units`` outputs (with bias)."""
    macs = features * units
    return Step(
        key,
        title,
        "dense",
        (units,),
        macs + units,
        macs,
        2 * macs,
        detail=word(activation),
        sees_everything=True,
        depth=1,
    )


@dataclass(frozen=True)
class Head:
    """How the last block's maps (H, W, C) become one vector for the dense layers."""

    name: str
    title: str
    description: str

    def step(self, shape: tuple[int, ...], has_blocks: bool) -> Step:
        """The head's step for block output ``shape``; a table row only after blocks."""
        if self.name == "gap":
            height, width, channels = shape
            return Step(
                "gap",
                self.title,
                "global average pool",
                (channels,),
                0,
                0,
                height * width * channels,
                detail=f"mean of {height}×{width}",
                sees_everything=True,
            )
        return Step("flatten", self.title, "flatten", (math.prod(shape),), row=has_blocks)

    def apply(self, x: jax.Array) -> jax.Array:
        """(N, H, W, C) → (N, H·W·C) for flatten, (N, C) for global average pooling."""
        if self.name == "gap":
            return jnp.mean(x, axis=(1, 2))
        return x.reshape(x.shape[0], -1)


HEADS: dict[str, Head] = {
    head.name: head
    for head in (
        Head("flatten", "flattened vector", "flatten: every position its own weights"),
        Head("gap", "global average pooling", "global average pooling: one mean per map"),
    )
}


def receptive_fields(steps: list[Step]) -> list[tuple[float, float, float]]:
    """(size, jump, first centre) of one output unit's input window after each step.

    Standard receptive-field arithmetic along one axis: through a window of kernel k,
    stride s and p pixels of padding before, the size grows by (k − 1)·jump, the first
    centre moves by ((k − 1)/2 − p)·jump and the jump multiplies by s.
    """
    size, jump, start = 1.0, 1.0, 0.0
    fields = []
    for step in steps:
        for kernel, stride, before in step.windows:
            size += (kernel - 1) * jump
            start += ((kernel - 1) / 2 - before) * jump
            jump *= stride
        fields.append((size, jump, start))
    return fields


def block_steps(spec: Any) -> list[list[Step]]:
    """Each block's steps (see :class:`Step`) of a network description (an
    :class:`explorer.model.ModelSpec`), block 1 first."""
    shape, walk = spec.input_shape, []
    for index, block in enumerate(spec.conv_blocks, start=1):
        walk.append(block.steps(index, shape))
        shape = walk[-1][-1].shape
    return walk


def steps(spec: Any) -> list[Step]:
    """Every step of the network in forward order, from the first block to the logits.

    The one walk through a spec that the layer table, the forward-pass stages and the
    receptive-field arithmetic read.
    """
    walk = [step for block in block_steps(spec) for step in block]
    shape = walk[-1].shape if walk else spec.input_shape
    walk.append(HEADS[spec.head].step(shape, bool(spec.conv_blocks)))
    features = walk[-1].shape[0]
    for index, layer in enumerate(spec.dense_layers, start=1):
        walk.append(
            dense_step(
                f"dense{index}", f"dense layer {index}", features, layer.units, layer.activation
            )
        )
        features = layer.units
    walk.append(
        dense_step("logits", "class scores (logits)", features, spec.num_classes, "softmax")
    )
    return walk
