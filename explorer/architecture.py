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
them.
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
POOLINGS = ("none", "max", "avg")
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
            batch-normalised value, 1 per pooled input or added value.
        windows: receptive-field steps (kernel, stride, pixels before) along the longest
            path through it; empty when it keeps the window.
        detail: settings in words for the table.
        row: a row of the layer table.
        feature: the output maps of a block (Grad-CAM, top images and unit preferences use
            them; the model can perturb them).
        ascent_source: the stage to maximise for "what a unit wants" (the values before
            the activation, so that a unit that starts switched off still has a gradient).
        sees_everything: each output sees the whole input (dense layers, global pooling).
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


def _conv_counts(kernel: int, c_in: int, c_out: int, shape: tuple[int, int, int], bias: bool):
    """(parameters, multiply-adds) of a kernel×kernel convolution with output ``shape``."""
    weights = kernel * kernel * c_in * c_out
    return weights + (c_out if bias else 0), weights * shape[0] * shape[1]


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
        "filters", "kernel_size", "stride", "padding", "activation", "pool", "pool_size",
        "batch_norm", "dropout",
    )  # fmt: skip

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
        height, width, channels = shape
        k, stride = self.kernel_size, self.stride
        out = (
            _padded_output(self.padding, height, k, stride),
            _padded_output(self.padding, width, k, stride),
            self.filters,
        )
        params, macs = _conv_counts(k, channels, self.filters, out, not self.batch_norm)
        before = padding_pair(self.padding, height, k, stride)[0]
        block = f"block {index} · "
        steps = [
            Step(
                f"conv{index}",
                block + "convolution",
                "conv",
                out,
                params,
                macs,
                2 * macs,
                ((k, stride, before),),
                f"{k}×{k}, stride {stride}, padding {self.padding}, {self.activation}",
            )  # fmt: skip
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
            )  # fmt: skip
        )
        if self.pool != "none":
            size = self.pool_size
            pooled = (out[0] // size, out[1] // size, self.filters)
            steps.append(
                Step(
                    f"pool{index}",
                    block + "pooling",
                    f"{self.pool} pool",
                    pooled,
                    0,
                    0,
                    math.prod(out),
                    ((size, size, 0),),
                    f"{size}×{size}",
                )  # fmt: skip
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


KINDS: dict[str, type] = {kind.KIND: kind for kind in (ConvBlock,)}
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
    return Step(key, title, "dense", (units,), macs + units, macs, 2 * macs, detail=activation,
                sees_everything=True)  # fmt: skip


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
            return Step("gap", self.title, "global avg pool", (channels,), 0, 0,
                        height * width * channels, detail=f"mean of {height}×{width}",
                        sees_everything=True)  # fmt: skip
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
