"""CNNs and MLPs built from a plain, JSON-friendly spec, and a per-layer table.

A :class:`ModelSpec` is a list of blocks of the kinds described in
:mod:`explorer.architecture` (convolution, pooling, residual, inception), a head
(flatten or global average pooling), dense layers and a final linear classifier. With
no blocks it is the MLP baseline. The Flax Linen module :class:`Network` turns a spec
into a model that maps float32 NHWC images in [0, 1] to class logits.

How convolution, batch norm and pooling are computed is pluggable
(``ModelSpec.layer_impl``) without changing the parameters or the callers:

- ``"im2col"``: :mod:`explorer.layers`' convolution as matrix products
  over image patches, pooling over strided views (a reshape and reduction when the
  windows tile the input), and :class:`BatchNorm`, all with hand-written gradients.
  XLA's CPU backend runs them roughly ten times faster than its native convolution
  and ``reduce_window`` pooling for the small images used here.
- ``"flax"``: the standard ``flax.linen.Conv``, ``max_pool``/``avg_pool`` and
  ``BatchNorm`` layers, the reference the fast path is tested against. On a GPU
  they run as cuDNN's convolution and pooling kernels, on a TPU as XLA's own.
- ``"auto"`` (default): ``"im2col"`` on the CPU backend, ``"flax"`` on any other
  (see :func:`resolve_layer_impl`), decided when the network is traced.

Both produce the same variables (``conv{i}/kernel`` in HWIO layout, ``conv{i}/bias``,
``bn{i}`` scale, bias and running statistics; ``res{i}_conv1``, ``inc{i}_b2_1`` … inside
residual and inception blocks), so a checkpoint trained with one runs with the other.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from explorer.architecture import (
    ACTIVATIONS,
    HEADS,
    KINDS,
    RENAMED_POOLINGS,
    ConvArgs,
    ConvBlock,
    DenseLayer,
    InceptionBlock,
    PoolBlock,
    ResidualBlock,
    padding_pair,
    receptive_fields,
    steps,
)
from explorer.budget import check_budget
from explorer.errors import ExplorerError
from explorer.layers import batch_norm, batch_statistics, im2col_conv, window_pool

LAYER_IMPLS = ("auto", "im2col", "flax")
BATCH_NORM_MOMENTUM = 0.9
MODEL_COLLECTIONS = ("params", "batch_stats")
"""The variable collections a model is made of; "intermediates" and "perturbations"
are only filled on request, for inspection."""

Block = ConvBlock | PoolBlock | ResidualBlock | InceptionBlock
"""Any of the block kinds of :data:`explorer.architecture.KINDS`."""


@dataclass(frozen=True)
class ModelSpec:
    """A whole network: input (H, W, C), blocks, head, hidden dense layers, classes.

    ``conv_blocks`` holds blocks of any kind of :data:`explorer.architecture.KINDS`,
    numbered from 1 in the layer table, the stages and the variables' names. ``head``
    (one of :data:`explorer.architecture.HEADS`) turns the last maps into a vector:
    "flatten" or "gap" (global average pooling).
    """

    input_shape: tuple[int, int, int]
    num_classes: int
    conv_blocks: tuple[Block, ...] = ()
    dense_layers: tuple[DenseLayer, ...] = ()
    layer_impl: str = "auto"
    name: str = "custom"
    head: str = "flatten"

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (see :func:`spec_from_dict` for the inverse); each block
        carries its ``kind``."""
        data = dataclasses.asdict(self)
        data["conv_blocks"] = [
            {"kind": block.KIND, **dataclasses.asdict(block)} for block in self.conv_blocks
        ]
        return data


@dataclass(frozen=True)
class LayerRow:
    """One row of the per-layer table.

    ``flops`` counts one multiply-add as two floating-point operations, one batch-norm
    value as four and one pooled input as one, per image, forward pass only; ``macs``
    counts the multiply-adds of convolutions and dense layers alone.
    ``receptive_field`` is the side of the input window (in pixels) that one output
    unit sees; ``None`` where it sees the whole input (dense layers).
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int
    receptive_field: int | None = None
    detail: str = field(default="")
    macs: int = 0


def _block_from_dict(data: dict) -> Block:
    fields = dict(data)
    kind = fields.pop("kind", ConvBlock.KIND)
    if kind not in KINDS:
        raise ExplorerError(f"Unknown kind of block {kind!r}; use one of {tuple(KINDS)}.")
    if "pool" in fields:
        fields["pool"] = RENAMED_POOLINGS.get(fields["pool"], fields["pool"])
    return KINDS[kind](**fields)


def spec_from_dict(data: dict) -> ModelSpec:
    """Rebuild and validate a :class:`ModelSpec` from :meth:`ModelSpec.to_dict` output
    (a block without a ``kind`` is a conv block, as saved before kinds existed; a pooling
    saved under an old name reads as its new one, see :data:`RENAMED_POOLINGS`)."""
    try:
        spec = ModelSpec(
            input_shape=tuple(int(v) for v in data["input_shape"]),
            num_classes=int(data["num_classes"]),
            conv_blocks=tuple(_block_from_dict(block) for block in data.get("conv_blocks", ())),
            dense_layers=tuple(DenseLayer(**layer) for layer in data.get("dense_layers", ())),
            layer_impl=str(data.get("layer_impl", "auto")),
            name=str(data.get("name", "custom")),
            head=str(data.get("head", "flatten")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ExplorerError(
            f"The model description is incomplete or malformed ({error})."
        ) from None
    validate_spec(spec)
    return spec


def resolve_layer_impl(layer_impl: str, backend: str | None = None) -> str:
    """The layers ``layer_impl`` stands for on ``backend`` (default: JAX's default backend).

    ``"auto"`` is ``"im2col"`` on ``"cpu"``, where the hand-written layers are the fast
    ones, and ``"flax"`` on ``"gpu"``, ``"tpu"`` or any other backend, where the native
    convolution and pooling kernels are; ``"im2col"`` and ``"flax"`` stand for themselves.
    """
    if layer_impl != "auto":
        return layer_impl
    return "im2col" if (backend or jax.default_backend()) == "cpu" else "flax"


def validate_spec(spec: ModelSpec) -> None:
    """Raise :class:`ExplorerError` if the spec cannot be built or shrinks the image to nothing."""
    if min(spec.input_shape) < 1:
        raise ExplorerError(f"The input shape {spec.input_shape} must be positive.")
    if spec.num_classes < 2:
        raise ExplorerError("A classifier needs at least two classes.")
    if spec.layer_impl not in LAYER_IMPLS:
        raise ExplorerError(f"Unknown layer implementation {spec.layer_impl!r}: {LAYER_IMPLS}.")
    if spec.head not in HEADS:
        raise ExplorerError(f"Unknown head {spec.head!r}; use one of {tuple(HEADS)}.")
    if spec.head == "gap" and not spec.conv_blocks:
        raise ExplorerError("Global average pooling needs at least one block of maps before it.")
    shape = spec.input_shape
    for index, block in enumerate(spec.conv_blocks, start=1):
        where = f"Block {index} ({block.TITLE.lower()})"
        block.check(where)
        shape = block.steps(index, shape)[-1].shape
        if min(shape) < 1:
            raise ExplorerError(
                f"{where} shrinks the image to nothing: use a smaller kernel, stride or "
                "pooling, 'same' padding, or fewer blocks."
            )
    for index, layer in enumerate(spec.dense_layers, start=1):
        layer.check(f"Dense layer {index}")


class Conv(nn.Module):
    """A convolution with ``kernel``/``bias`` parameters computed by :func:`im2col_conv`."""

    args: ConvArgs

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, c_in, filters = self.args.kernel_size, x.shape[-1], self.args.filters
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, c_in, filters))
        y = im2col_conv(x, kernel, self.args.stride, _conv_padding(self.args, x.shape))
        if self.args.use_bias:
            y = y + self.param("bias", nn.initializers.zeros_init(), (filters,))
        return y


def _conv_padding(args: ConvArgs, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zero pixels of a convolution on (N, H, W, C) ``shape``."""
    return padding_pair(args.padding, shape[1], args.kernel_size, args.stride) + padding_pair(
        args.padding, shape[2], args.kernel_size, args.stride
    )


class BatchNorm(nn.Module):
    """Flax ``BatchNorm``'s variables and values, trained through :func:`batch_norm`.

    Parameters ``scale``/``bias`` and running statistics ``batch_stats`` ``mean``/``var``
    (all (C,)) as in Flax. With ``train`` it normalises (..., C) by the batch's own
    statistics and moves the running ones towards them by ``1 − momentum``;
    otherwise it normalises by the running statistics. The recorded statistics and
    the ones :func:`batch_norm` normalises by are the same expression of ``x``, so
    XLA computes them once.
    """

    momentum: float = BATCH_NORM_MOMENTUM
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        channels = (x.shape[-1],)
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, channels, jnp.float32)
        running_var = self.variable("batch_stats", "var", jnp.ones, channels, jnp.float32)
        scale = self.param("scale", nn.initializers.ones, channels)
        bias = self.param("bias", nn.initializers.zeros, channels)
        if not train:
            inverse_std = jax.lax.rsqrt(running_var.value + self.epsilon)
            return (x - running_mean.value) * (inverse_std * scale) + bias
        if not self.is_initializing():
            mean, variance = jax.lax.stop_gradient(batch_statistics(x))
            keep = self.momentum
            running_mean.value = keep * running_mean.value + (1 - keep) * mean
            running_var.value = keep * running_var.value + (1 - keep) * variance
        return batch_norm(x, scale, bias, self.epsilon)


class Network(nn.Module):
    """The Flax module for a :class:`ModelSpec`.

    Call with float32 images (N, H, W, C) in [0, 1] and ``train`` (batch statistics
    and dropout on); returns logits (N, num_classes). Uses the ``dropout`` RNG stream
    when training with dropout and the mutable ``batch_stats`` collection when the
    spec has batch norm. Each block builds itself (``build`` of its kind) from the
    primitive layers below, which follow ``spec.layer_impl``.
    """

    spec: ModelSpec

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        for index, block in enumerate(self.spec.conv_blocks, start=1):
            x = block.build(self, index, x, train)
        x = self.record(self.spec.head, HEADS[self.spec.head].apply(x))
        for index, layer in enumerate(self.spec.dense_layers, start=1):
            x = self.activate(layer.activation, nn.Dense(layer.units, name=f"dense{index}")(x))
            x = self.dropout(layer.dropout, self.record(f"dense{index}", x), train)
        return self.record("logits", nn.Dense(self.spec.num_classes, name="logits")(x))

    def record(self, key: str, x: jax.Array) -> jax.Array:
        """Keep stage ``key``'s output as ``{key}_out`` in "intermediates" when asked for.

        A no-op unless ``apply`` is called with ``mutable=["intermediates"]``, so
        training pays nothing for it; :mod:`explorer.explain` reads the stages.
        """
        self.sow("intermediates", f"{key}_out", x)
        return x

    def _hand_written(self) -> bool:
        """Whether this trace uses :mod:`explorer.layers` (see :func:`resolve_layer_impl`)."""
        return resolve_layer_impl(self.spec.layer_impl) == "im2col"

    def activate(self, name: str, x: jax.Array) -> jax.Array:
        """The activation function ``name`` of :data:`ACTIVATIONS`."""
        return ACTIVATIONS[name](x)

    def dropout(self, rate: float, x: jax.Array, train: bool) -> jax.Array:
        """Dropout of ``rate`` while training (nothing when the rate is 0)."""
        return nn.Dropout(rate, deterministic=not train)(x) if rate else x

    def conv(self, name: str, args: ConvArgs, x: jax.Array) -> jax.Array:
        """A convolution named ``name``: the fast path's :class:`Conv` or ``nn.Conv``."""
        if self._hand_written():
            return Conv(args, name=name)(x)
        padding = _conv_padding(args, x.shape)
        return nn.Conv(
            args.filters,
            (args.kernel_size, args.kernel_size),
            strides=args.stride,
            padding=[padding[:2], padding[2:]],
            use_bias=args.use_bias,
            name=name,
        )(x)

    def batch_norm(self, name: str, x: jax.Array, train: bool) -> jax.Array:
        """Batch norm named ``name``: the fast path's :class:`BatchNorm` or ``nn.BatchNorm``."""
        if self._hand_written():
            return BatchNorm(name=name)(x, train)
        return nn.BatchNorm(use_running_average=not train, momentum=BATCH_NORM_MOMENTUM, name=name)(
            x
        )

    def pool(self, kind: str, size: int, stride: int, padding: str | int, x: jax.Array):
        """``size``×``size`` max or average pooling of (N, H, W, C) at ``stride`` with
        ``padding`` ("valid", "same" or pixels): the fast path's :func:`window_pool` or
        Flax's ``max_pool``/``avg_pool``."""
        pads = padding_pair(padding, x.shape[1], size, stride) + padding_pair(
            padding, x.shape[2], size, stride
        )
        if self._hand_written():
            return window_pool(x, kind, size, stride, pads)
        pooling = nn.max_pool if kind == "max" else nn.avg_pool
        return pooling(x, (size, size), strides=(stride, stride), padding=[pads[:2], pads[2:]])


@partial(jax.jit, static_argnums=0)
def _init(spec: ModelSpec, key: jax.Array) -> dict:
    return Network(spec).init(key, jnp.zeros((1, *spec.input_shape), jnp.float32), train=False)


def init_variables(spec: ModelSpec, seed: int = 0) -> dict:
    """Initial variables ``{"params": ..., ["batch_stats": ...]}`` for ``spec``, from ``seed``.

    Jitted with the "rbg" random generator, which XLA compiles several times faster
    than the default threefry for the truncated-normal initialisers.

    Raises:
        ExplorerError: the spec cannot be built, or it is over the model budget
            (:func:`explorer.budget.check_budget`), checked before any array is made.
    """
    validate_spec(spec)
    check_budget(spec)
    variables = _init(spec, jax.random.key(seed, impl="rbg"))
    return {name: variables[name] for name in MODEL_COLLECTIONS if name in variables}


def variable_shapes(spec: ModelSpec) -> dict:
    """The variables' ``jax.ShapeDtypeStruct`` tree, without allocating them.

    Raises:
        ExplorerError: the spec cannot be built or is over the model budget (as
            :func:`init_variables`).
    """
    validate_spec(spec)
    check_budget(spec)
    dummy = jax.ShapeDtypeStruct((1, *spec.input_shape), jnp.float32)
    shapes = jax.eval_shape(lambda x: Network(spec).init(jax.random.key(0), x), dummy)
    return {name: shapes[name] for name in MODEL_COLLECTIONS if name in shapes}


def count_params(params: dict) -> int:
    """Number of trainable scalars in a parameter tree."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))


def layer_table(spec: ModelSpec) -> list[LayerRow]:
    """Per-layer output shape (per image), trainable parameters, FLOPs, multiply-adds and
    receptive field, starting with the input.

    Computed from the spec by arithmetic alone (no arrays), so it is instant and can
    be checked against hand-computed values.
    """
    validate_spec(spec)
    walk = steps(spec)
    rows = [LayerRow("input", "input", spec.input_shape, 0, 0, 1)]
    for step, (size, _, _) in zip(walk, receptive_fields(walk), strict=True):
        if step.row:
            field_size = None if step.sees_everything else int(size)
            rows.append(
                LayerRow(
                    step.key,
                    step.kind,
                    step.shape,
                    step.params,
                    step.flops,
                    field_size,
                    step.detail,
                    step.macs,
                )
            )
    return rows


def tiny_cnn(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """The default MNIST net: conv 16 → conv 32 (3×3, batch norm, ReLU, 2×2 max pool) → dense 128.

    Small enough to train an epoch of full MNIST in seconds on two CPU cores, and
    reaches ≥ 99.2% test accuracy in 3 epochs with the default training settings.
    """
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(
            ConvBlock(16, batch_norm=True),
            ConvBlock(32, batch_norm=True),
        ),
        dense_layers=(DenseLayer(128),),
        name="tiny",
    )


def lenet5(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """LeNet-5 (LeCun et al., 1998) for 28×28 input: the first conv pads by 2 as on 32×32.

    conv 6@5×5 → avg pool 2 → conv 16@5×5 → avg pool 2 → dense 120 → dense 84 → classes,
    tanh activations; 61,706 parameters for 10 classes, as in the paper.
    """
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(
            ConvBlock(6, kernel_size=5, padding=2, activation="tanh", pool="average"),
            ConvBlock(16, kernel_size=5, padding="valid", activation="tanh", pool="average"),
        ),
        dense_layers=(DenseLayer(120, "tanh"), DenseLayer(84, "tanh")),
        name="lenet5",
    )


def vgg_style(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """A small VGG-style net: pairs of 3×3 convs with batch norm, pooling after each pair."""
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(
            ConvBlock(32, pool="none", batch_norm=True),
            ConvBlock(32, batch_norm=True),
            ConvBlock(64, pool="none", batch_norm=True),
            ConvBlock(64, batch_norm=True, dropout=0.25),
        ),
        dense_layers=(DenseLayer(256, dropout=0.5),),
        name="vgg",
    )


def mlp(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """The MLP baseline: flatten → dense 256 → dense 128 → classes, no convolutions."""
    return ModelSpec(
        input_shape,
        num_classes,
        dense_layers=(DenseLayer(256), DenseLayer(128)),
        name="mlp",
    )


def alexnet_style(
    input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10
) -> ModelSpec:
    """AlexNet's ideas (Krizhevsky et al., 2012) at digit size: a 5×5 then 3×3 convolutions,
    ReLU, overlapping 3×3 max pooling at stride 2, and two dropout-regularised dense layers.

    Five conv layers (32, 64, 96, 96, 64 filters) and three pools as in AlexNet's
    conv1–conv5; 28×28 → 13 → 6 → 2 (32×32 → 15 → 7 → 3).
    """
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(
            ConvBlock(32, kernel_size=5, pool="none"),
            PoolBlock("max", 3, 2),
            ConvBlock(64, pool="none"),
            PoolBlock("max", 3, 2),
            ConvBlock(96, pool="none"),
            ConvBlock(96, pool="none"),
            ConvBlock(64, pool="none"),
            PoolBlock("max", 3, 2),
        ),
        dense_layers=(DenseLayer(256, dropout=0.5), DenseLayer(256, dropout=0.5)),
        name="alexnet",
    )


def small_resnet(
    input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10
) -> ModelSpec:
    """A small ResNet (He et al., 2016): a 3×3 conv stem with batch norm, three basic
    residual blocks of 16, 32 and 64 filters (the last two halve the size, with a 1×1
    projection shortcut), global average pooling and the classifier; no dense layers.

    28×28 → 14 → 7 (32×32 → 16 → 8).
    """
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(
            ConvBlock(16, batch_norm=True, pool="none"),
            ResidualBlock(16),
            ResidualBlock(32, stride=2),
            ResidualBlock(64, stride=2),
        ),
        head="gap",
        name="resnet",
    )


@dataclass(frozen=True)
class Preset:
    """A named starting architecture: ``build(input_shape, num_classes)`` and a title."""

    build: Callable[[tuple[int, int, int], int], ModelSpec]
    title: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(tiny_cnn, "Tiny CNN: two conv blocks and a classifier (the default MNIST net)"),
    "lenet5": Preset(lenet5, "LeNet-5 (LeCun et al., 1998): the classic digit reader"),
    "alexnet": Preset(
        alexnet_style, "AlexNet-style (2012): ReLU, overlapping max pooling, dropout"
    ),
    "vgg": Preset(vgg_style, "VGG-style: stacks of 3×3 convolutions before each pooling"),
    "resnet": Preset(
        small_resnet, "Small ResNet (2015): residual blocks and global average pooling"
    ),
    "mlp": Preset(mlp, "MLP baseline: no convolutions, the image flattened into dense layers"),
}


def preset(name: str, input_shape: tuple[int, int, int], num_classes: int) -> ModelSpec:
    """The preset architecture ``name`` (one of :data:`PRESETS`) for a dataset's shape."""
    if name not in PRESETS:
        raise ExplorerError(f"Unknown architecture {name!r}; choose one of {tuple(PRESETS)}.")
    spec = PRESETS[name].build(tuple(input_shape), num_classes)
    validate_spec(spec)
    return spec
