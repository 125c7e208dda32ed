"""CNNs and MLPs built from a plain, JSON-friendly spec, and a per-layer table.

A :class:`ModelSpec` is a list of convolution blocks (conv → batch norm →
activation → pooling → dropout) followed by dense layers and a final linear
classifier. With no convolution blocks it is the MLP baseline. The Flax Linen
module :class:`Network` turns a spec into a model that maps float32 NHWC images
in [0, 1] to class logits.

How convolution, batch norm and pooling are computed is pluggable
(``ModelSpec.layer_impl``) without changing the parameters or the callers:

- ``"im2col"``: :mod:`explorer.layers`' convolution as matrix products
  over image patches, non-overlapping pooling as a reshape and reduction, and
  :class:`BatchNorm`, all with hand-written gradients. XLA's CPU backend runs them
  roughly ten times faster than its native convolution and ``reduce_window``
  pooling for the small images used here.
- ``"flax"``: the standard ``flax.linen.Conv``, ``max_pool``/``avg_pool`` and
  ``BatchNorm`` layers, the reference the fast path is tested against. On a GPU
  they run as cuDNN's convolution and pooling kernels, on a TPU as XLA's own.
- ``"auto"`` (default): ``"im2col"`` on the CPU backend, ``"flax"`` on any other
  (see :func:`resolve_layer_impl`), decided when the network is traced.

Both produce the same variables (``conv{i}/kernel`` in HWIO layout, ``conv{i}/bias``,
``bn{i}`` scale, bias and running statistics), so a checkpoint trained with one runs
with the other.
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
import numpy as np

from explorer.errors import ExplorerError
from explorer.layers import batch_norm, batch_statistics, block_pool, im2col_conv

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
LAYER_IMPLS = ("auto", "im2col", "flax")
BATCH_NORM_MOMENTUM = 0.9
MODEL_COLLECTIONS = ("params", "batch_stats")
"""The variable collections a model is made of; "intermediates" and "perturbations"
are only filled on request, for inspection."""


@dataclass(frozen=True)
class ConvBlock:
    """One convolution block: conv → [batch norm] → activation → [pool] → [dropout].

    ``padding`` is "same" (output size ceil(in / stride)), "valid" (no padding) or a
    number of zero pixels added on every side. Pooling windows are square and do not
    overlap (stride = ``pool_size``); leftover rows/columns are dropped.
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


@dataclass(frozen=True)
class DenseLayer:
    """A hidden fully connected layer: dense → activation → [dropout]."""

    units: int
    activation: str = "relu"
    dropout: float = 0.0


@dataclass(frozen=True)
class ModelSpec:
    """A whole network: input (H, W, C), conv blocks, hidden dense layers, classes."""

    input_shape: tuple[int, int, int]
    num_classes: int
    conv_blocks: tuple[ConvBlock, ...] = ()
    dense_layers: tuple[DenseLayer, ...] = ()
    layer_impl: str = "auto"
    name: str = "custom"

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (see :func:`spec_from_dict` for the inverse)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LayerRow:
    """One row of the per-layer table.

    ``flops`` counts one multiply-add as two floating-point operations for conv and
    dense layers and one operation per input element for pooling, per image, forward
    pass only. ``receptive_field`` is the side of the input window (in pixels) that
    one output unit sees; dense layers see the whole input.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int
    receptive_field: int | None = None
    detail: str = field(default="")


def spec_from_dict(data: dict) -> ModelSpec:
    """Rebuild and validate a :class:`ModelSpec` from :meth:`ModelSpec.to_dict` output."""
    try:
        spec = ModelSpec(
            input_shape=tuple(int(v) for v in data["input_shape"]),
            num_classes=int(data["num_classes"]),
            conv_blocks=tuple(ConvBlock(**block) for block in data.get("conv_blocks", ())),
            dense_layers=tuple(DenseLayer(**layer) for layer in data.get("dense_layers", ())),
            layer_impl=str(data.get("layer_impl", "auto")),
            name=str(data.get("name", "custom")),
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


def conv_padding(block: ConvBlock, size: int) -> tuple[int, int]:
    """Zero pixels (before, after) along one spatial axis of length ``size``."""
    if block.padding == "valid":
        return 0, 0
    if block.padding == "same":
        out = -(-size // block.stride)
        total = max((out - 1) * block.stride + block.kernel_size - size, 0)
        return total // 2, total - total // 2
    return int(block.padding), int(block.padding)


def conv_output_size(block: ConvBlock, size: int) -> int:
    """Output length along one axis of a convolution (before pooling)."""
    before, after = conv_padding(block, size)
    return (size + before + after - block.kernel_size) // block.stride + 1


def validate_spec(spec: ModelSpec) -> None:
    """Raise :class:`ExplorerError` if the spec cannot be built or shrinks the image to nothing."""
    height, width, channels = spec.input_shape
    if min(height, width, channels) < 1:
        raise ExplorerError(f"The input shape {spec.input_shape} must be positive.")
    if spec.num_classes < 2:
        raise ExplorerError("A classifier needs at least two classes.")
    if spec.layer_impl not in LAYER_IMPLS:
        raise ExplorerError(f"Unknown layer implementation {spec.layer_impl!r}: {LAYER_IMPLS}.")
    for index, block in enumerate(spec.conv_blocks, start=1):
        where = f"Conv block {index}"
        if block.filters < 1 or block.kernel_size < 1 or block.stride < 1:
            raise ExplorerError(f"{where}: filters, kernel size and stride must be at least 1.")
        if block.padding not in PADDINGS and not (
            isinstance(block.padding, int) and block.padding >= 0
        ):
            raise ExplorerError(f"{where}: padding must be 'same', 'valid' or a number ≥ 0.")
        _check_common(where, block.activation, block.dropout)
        if block.pool not in POOLINGS:
            raise ExplorerError(f"{where}: pooling must be one of {POOLINGS}.")
        height, width = (conv_output_size(block, side) for side in (height, width))
        if block.pool != "none":
            if block.pool_size < 1:
                raise ExplorerError(f"{where}: the pooling size must be at least 1.")
            height, width = height // block.pool_size, width // block.pool_size
        if min(height, width) < 1:
            raise ExplorerError(
                f"{where} shrinks the image to nothing: use a smaller kernel, stride or "
                "pooling, 'same' padding, or fewer blocks."
            )
    for index, layer in enumerate(spec.dense_layers, start=1):
        if layer.units < 1:
            raise ExplorerError(f"Dense layer {index} needs at least one unit.")
        _check_common(f"Dense layer {index}", layer.activation, layer.dropout)


def _check_common(where: str, activation: str, dropout: float) -> None:
    if activation not in ACTIVATIONS:
        raise ExplorerError(
            f"{where}: unknown activation {activation!r}; use one of {tuple(ACTIVATIONS)}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ExplorerError(f"{where}: dropout must be in [0, 1).")


class Conv(nn.Module):
    """A convolution with ``kernel``/``bias`` parameters computed by :func:`im2col_conv`."""

    block: ConvBlock
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, c_in = self.block.kernel_size, x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (k, k, c_in, self.block.filters)
        )
        padding = conv_padding(self.block, x.shape[1]) + conv_padding(self.block, x.shape[2])
        y = im2col_conv(x, kernel, self.block.stride, padding)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros_init(), (self.block.filters,))
        return y


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
    spec has batch norm.
    """

    spec: ModelSpec

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        for index, block in enumerate(self.spec.conv_blocks, start=1):
            x = self._record(f"conv{index}_out", self._conv(block, index, x))
            if block.batch_norm:
                x = self._batch_norm(index, train, x)
                x = self._record(f"bn{index}_out", x)
            x = self.perturb(f"act{index}", ACTIVATIONS[block.activation](x))
            x = self._record(f"act{index}_out", x)
            if block.pool != "none":
                x = self._record(f"pool{index}_out", self._pool(block, x))
            if block.dropout:
                x = nn.Dropout(block.dropout, deterministic=not train)(x)
        x = self._record("flatten_out", x.reshape(x.shape[0], -1))
        for index, layer in enumerate(self.spec.dense_layers, start=1):
            x = ACTIVATIONS[layer.activation](nn.Dense(layer.units, name=f"dense{index}")(x))
            x = self._record(f"dense{index}_out", x)
            if layer.dropout:
                x = nn.Dropout(layer.dropout, deterministic=not train)(x)
        return self._record("logits_out", nn.Dense(self.spec.num_classes, name="logits")(x))

    def _record(self, name: str, x: jax.Array) -> jax.Array:
        """Keep a stage's output in the "intermediates" collection when it is asked for.

        A no-op unless ``apply`` is called with ``mutable=["intermediates"]``, so
        training pays nothing for it; :mod:`explorer.explain` reads the stages.
        """
        self.sow("intermediates", name, x)
        return x

    def _hand_written(self) -> bool:
        """Whether this trace uses :mod:`explorer.layers` (see :func:`resolve_layer_impl`)."""
        return resolve_layer_impl(self.spec.layer_impl) == "im2col"

    def _conv(self, block: ConvBlock, index: int, x: jax.Array) -> jax.Array:
        name, use_bias = f"conv{index}", not block.batch_norm
        if self._hand_written():
            return Conv(block, use_bias=use_bias, name=name)(x)
        padding = [conv_padding(block, x.shape[1]), conv_padding(block, x.shape[2])]
        return nn.Conv(
            block.filters,
            (block.kernel_size, block.kernel_size),
            strides=block.stride,
            padding=padding,
            use_bias=use_bias,
            name=name,
        )(x)

    def _batch_norm(self, index: int, train: bool, x: jax.Array) -> jax.Array:
        name = f"bn{index}"
        if self._hand_written():
            return BatchNorm(name=name)(x, train)
        return nn.BatchNorm(use_running_average=not train, momentum=BATCH_NORM_MOMENTUM, name=name)(
            x
        )

    def _pool(self, block: ConvBlock, x: jax.Array) -> jax.Array:
        if self._hand_written():
            return block_pool(x, block.pool, block.pool_size)
        window = (block.pool_size, block.pool_size)
        pool = nn.max_pool if block.pool == "max" else nn.avg_pool
        return pool(x, window, strides=window, padding="VALID")


@partial(jax.jit, static_argnums=0)
def _init(spec: ModelSpec, key: jax.Array) -> dict:
    return Network(spec).init(key, jnp.zeros((1, *spec.input_shape), jnp.float32), train=False)


def init_variables(spec: ModelSpec, seed: int = 0) -> dict:
    """Initial variables ``{"params": ..., ["batch_stats": ...]}`` for ``spec``, from ``seed``.

    Jitted with the "rbg" random generator, which XLA compiles several times faster
    than the default threefry for the truncated-normal initialisers.
    """
    validate_spec(spec)
    variables = _init(spec, jax.random.key(seed, impl="rbg"))
    return {name: variables[name] for name in MODEL_COLLECTIONS if name in variables}


def variable_shapes(spec: ModelSpec) -> dict:
    """The variables' ``jax.ShapeDtypeStruct`` tree, without allocating them."""
    validate_spec(spec)
    dummy = jax.ShapeDtypeStruct((1, *spec.input_shape), jnp.float32)
    shapes = jax.eval_shape(lambda x: Network(spec).init(jax.random.key(0), x), dummy)
    return {name: shapes[name] for name in MODEL_COLLECTIONS if name in shapes}


def count_params(params: dict) -> int:
    """Number of trainable scalars in a parameter tree."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))


def layer_table(spec: ModelSpec) -> list[LayerRow]:
    """Per-layer output shape (per image), trainable parameters, FLOPs and receptive field.

    Computed from the spec by arithmetic alone (no arrays), so it is instant and can
    be checked against hand-computed values.
    """
    validate_spec(spec)
    height, width, channels = spec.input_shape
    rows = [LayerRow("input", "input", (height, width, channels), 0, 0, 1)]
    field_size, jump = 1, 1
    for index, block in enumerate(spec.conv_blocks, start=1):
        k = block.kernel_size
        height, width = conv_output_size(block, height), conv_output_size(block, width)
        weights = k * k * channels * block.filters
        bias = 0 if block.batch_norm else block.filters
        field_size, jump = field_size + (k - 1) * jump, jump * block.stride
        rows.append(
            LayerRow(
                f"conv{index}",
                "conv",
                (height, width, block.filters),
                weights + bias,
                2 * weights * height * width,
                field_size,
                f"{k}×{k}, stride {block.stride}, padding {block.padding}, {block.activation}",
            )
        )
        channels = block.filters
        if block.batch_norm:
            rows.append(
                LayerRow(
                    f"bn{index}",
                    "batch norm",
                    (height, width, channels),
                    2 * channels,
                    4 * height * width * channels,
                    field_size,
                )
            )
        if block.pool != "none":
            size = block.pool_size
            flops = height * width * channels
            height, width = height // size, width // size
            field_size, jump = field_size + (size - 1) * jump, jump * size
            rows.append(
                LayerRow(
                    f"pool{index}",
                    f"{block.pool} pool",
                    (height, width, channels),
                    0,
                    flops,
                    field_size,
                    f"{size}×{size}",
                )
            )
    features = height * width * channels
    if spec.conv_blocks:
        rows.append(LayerRow("flatten", "flatten", (features,), 0, 0, field_size))
    hidden = [
        (f"dense{i}", layer.units, layer.activation)
        for i, layer in enumerate(spec.dense_layers, start=1)
    ]
    for name, units, activation in [*hidden, ("logits", spec.num_classes, "softmax")]:
        rows.append(
            LayerRow(
                name,
                "dense",
                (units,),
                features * units + units,
                2 * features * units,
                None,
                activation,
            )
        )
        features = units
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
            ConvBlock(6, kernel_size=5, padding=2, activation="tanh", pool="avg"),
            ConvBlock(16, kernel_size=5, padding="valid", activation="tanh", pool="avg"),
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


PRESETS: dict[str, Callable[..., ModelSpec]] = {
    "tiny": tiny_cnn,
    "lenet5": lenet5,
    "vgg": vgg_style,
    "mlp": mlp,
}


def preset(name: str, input_shape: tuple[int, int, int], num_classes: int) -> ModelSpec:
    """The preset architecture ``name`` (one of :data:`PRESETS`) for a dataset's shape."""
    if name not in PRESETS:
        raise ExplorerError(f"Unknown architecture {name!r}; choose one of {tuple(PRESETS)}.")
    spec = PRESETS[name](tuple(input_shape), num_classes)
    validate_spec(spec)
    return spec


@partial(jax.jit, static_argnums=0)
def _probabilities(spec: ModelSpec, variables: dict, images: jax.Array) -> jax.Array:
    return jax.nn.softmax(Network(spec).apply(variables, images, train=False), axis=-1)


def predict_probabilities(spec: ModelSpec, variables: dict, images: np.ndarray) -> np.ndarray:
    """Class probabilities float32 (N, classes) for float32 images (N, H, W, C) in [0, 1].

    Inference mode: batch-norm running statistics, no dropout. Compiled once per
    (spec, batch shape).
    """
    return np.asarray(_probabilities(spec, variables, jnp.asarray(images, jnp.float32)))
