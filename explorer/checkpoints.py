"""Checkpoints: one self-checking file per run, written atomically, never pickled.

A run folder holds ``checkpoint.msgpack`` (and, from the CLI, ``metrics.json``).
The checkpoint is a MessagePack map::

    {"format": "cnn-explorer-checkpoint", "version": 1,
     "metadata": "<JSON: spec, dataset (name, class names, preprocessing), metrics>",
     "variables": <flax.serialization msgpack bytes of {"params", ["batch_stats"]}>,
     "sha256": "<hex digest of metadata + variables>"}

Saving writes a temporary file in the same folder, flushes it to disk and renames
it over the old one (``os.replace``), so a crash leaves either the old or the new
checkpoint, never half of one. A save killed outright (SIGKILL, power loss) leaves its
temporary ``.NAME.RANDOM.tmp`` behind; saving, loading, listing and deleting remove such
orphans once they are :data:`explorer.files.ORPHAN_AGE_SECONDS` old. Loading refuses,
with :class:`ExplorerError`, a file that is truncated, altered (checksum), of another
format, whose description fails :func:`validate_metadata` (checked field by field: types,
ranges, unique class names, a dataset name that is not a path, and the model's cost
against :data:`explorer.budget.BUDGET`, before any weight is decoded), or whose arrays
do not fit the model it describes (shape and dtype; a float32 weight may be stored as
float16, see :func:`half_precision`, and is read back as float32); a listing shows such
a file with its reason and no description. It reads only plain files
of at most :data:`MAX_CHECKPOINT_BYTES` (never a device or a FIFO). MessagePack and
Flax's array encoding carry only data; nothing in a checkpoint can run code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jax
import msgpack
import numpy as np
from flax import serialization

from explorer.budget import check_budget
from explorer.data.augmentation import Augmentation
from explorer.data.registry import PREPROCESSINGS, check_recorded_name
from explorer.errors import ExplorerError
from explorer.files import atomic_file, os_errors_as_messages, read_regular_file, remove_orphans
from explorer.losses import DEFAULT_LOSS, LOSSES
from explorer.model import ModelSpec, spec_from_dict, variable_shapes

CHECKPOINT_FILE = "checkpoint.msgpack"
FORMAT = "cnn-explorer-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 512 * 2**20
RUN_FILES = (CHECKPOINT_FILE, "metrics.json")
TEMP_PATTERN = ".*.tmp"
"""Names of the temporary files of :func:`write_atomically` in a run folder."""


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: model variables (NumPy), its spec and its metadata."""

    variables: dict
    spec: ModelSpec
    metadata: dict

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in label order."""
        return tuple(self.metadata["dataset"]["class_names"])

    @property
    def preprocessing(self) -> str:
        """How a single picture must be prepared (see ``explorer.data.registry.PREPROCESSINGS``)."""
        return self.metadata["dataset"].get("preprocessing", "resize")

    @property
    def loss(self) -> str:
        """The loss the run minimised (one of ``explorer.losses.LOSSES``); checkpoints
        written before the choice existed were trained with cross-entropy."""
        return training_loss(self.metadata)


@dataclass(frozen=True)
class CheckpointSummary:
    """One entry of :func:`list_checkpoints`; ``error`` is set for a refused checkpoint."""

    name: str
    path: Path
    metadata: dict | None
    error: str | None = None


def checkpoint_path(location: str | os.PathLike) -> Path:
    """The checkpoint file of a run folder, or ``location`` itself if it is a file."""
    path = Path(location).expanduser()
    return path / CHECKPOINT_FILE if path.is_dir() or not path.suffix else path


def _digest(metadata: bytes, variables: bytes) -> str:
    return hashlib.sha256(metadata + b"\0" + variables).hexdigest()


def fingerprint(variables: dict) -> str:
    """A short content digest of model variables (any pytree of arrays), for cache keys.

    Equal for equal structure, shapes, dtypes and values; one changed weight changes it.
    """
    leaves, structure = jax.tree_util.tree_flatten(jax.device_get(variables))
    digest = hashlib.blake2b(str(structure).encode(), digest_size=16)
    for leaf in leaves:
        array = np.ascontiguousarray(leaf)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _to_numpy(variables: dict) -> dict:
    return jax.tree_util.tree_map(np.asarray, jax.device_get(variables))


STORED_AS = {np.dtype(np.float32): (np.dtype(np.float32), np.dtype(np.float16))}
"""The dtypes a checkpoint may store each model dtype as (float16 halves a file's size);
any other model dtype is stored as itself."""


def half_precision(variables: dict) -> dict:
    """``variables`` with every float32 array rounded to float16 (NumPy), for a file half
    the size; loading casts them back to float32. Relative rounding error at most 2**-11
    for magnitudes from 6.1e-5 to 65504 (absolute at most 2**-25 below).

    Raises:
        ExplorerError: a weight beyond float16's range (it would become infinite).
    """
    host = _to_numpy(variables)
    for leaf in jax.tree_util.tree_leaves(host):
        if leaf.dtype == np.float32 and np.abs(leaf).max(initial=0.0) > np.finfo(np.float16).max:
            raise ExplorerError("A weight is too large for float16: keep this model in float32.")
    return jax.tree_util.tree_map(
        lambda leaf: leaf.astype(np.float16) if leaf.dtype == np.float32 else leaf, host
    )


def checkpoint_bytes(variables: dict, spec: ModelSpec, dataset: dict, metrics: dict) -> bytes:
    """Serialise a checkpoint (see the module docstring) to bytes.

    Args:
        variables: ``{"params": ..., ["batch_stats": ...]}``, device or host arrays.
        spec: the model's spec.
        dataset: at least ``name``, ``class_names`` and ``preprocessing``.
        metrics: JSON-serialisable results of the run.
    """
    metadata = json.dumps(
        {
            "spec": spec.to_dict(),
            "dataset": dataset,
            "metrics": metrics,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": {"jax": jax.__version__},
        }
    ).encode()
    payload = serialization.msgpack_serialize(_to_numpy(variables))
    return msgpack.packb(
        {
            "format": FORMAT,
            "version": VERSION,
            "metadata": metadata,
            "variables": payload,
            "sha256": _digest(metadata, payload),
        },
        use_bin_type=True,
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`explorer.files.atomic_file`, first removing
    the temporary files of killed saves in its folder.

    Raises:
        ExplorerError: the file system refused (no space, name too long, …); the message
            names the file but not its folder.
    """
    with os_errors_as_messages(f"save {path.name}"):
        remove_orphans(path.parent, TEMP_PATTERN)
        with atomic_file(path, ".tmp") as file:
            file.write(data)


def save_checkpoint(
    run_dir: str | os.PathLike, variables: dict, spec: ModelSpec, dataset: dict, metrics: dict
) -> Path:
    """Save atomically to ``run_dir/checkpoint.msgpack``; returns the file's path."""
    path = Path(run_dir).expanduser() / CHECKPOINT_FILE
    write_atomically(path, checkpoint_bytes(variables, spec, dataset, metrics))
    return path


def _refuse(reason: str) -> ExplorerError:
    return ExplorerError(f"This checkpoint was refused: {reason}.")


def _unpack_envelope(data: bytes) -> tuple[bytes, bytes]:
    """(metadata JSON bytes, variables bytes) after checking format, version and checksum."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise _refuse(f"it is larger than {MAX_CHECKPOINT_BYTES // 2**20} MB")
    try:
        envelope = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.exceptions.UnpackException, TypeError) as error:
        raise _refuse(f"the file is truncated or damaged ({type(error).__name__})") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise _refuse("it is not a CNN Explorer checkpoint")
    if envelope.get("version") != VERSION:
        raise _refuse(f"it has format version {envelope.get('version')!r}; expected {VERSION}")
    metadata, payload = envelope.get("metadata"), envelope.get("variables")
    if not isinstance(metadata, bytes) or not isinstance(payload, bytes):
        raise _refuse("its contents are incomplete")
    if envelope.get("sha256") != _digest(metadata, payload):
        raise _refuse("its checksum does not match, so it was altered or damaged")
    return metadata, payload


MAX_NAME_LENGTH = 200
"""Longest dataset or class name a checkpoint may carry."""
MAX_CLASSES = 1000
MAX_SIDE = 4096
MAX_UNITS = 65536
ACCURACY_METRICS = ("best_val_accuracy", "test_accuracy", "val_accuracy")


def _invalid(field: str, problem: str) -> ExplorerError:
    return _refuse(f"its description is not valid: {field} {problem}")


def _type_name(value: object) -> str:
    if value is None:
        return "missing"
    return {dict: "a map", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _require(value: object, kind: type | tuple, field: str, expected: str) -> None:
    """``value`` must be a ``kind`` (a bool never counts as a number)."""
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
        raise _invalid(field, f"is {_type_name(value)}; expected {expected}")


def _tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _require_number(value: object, field: str, low: float, high: float) -> None:
    _require(value, (int, float), field, "a number")
    if not low <= value <= high:  # also refuses NaN
        raise _invalid(field, f"is {value!r}; expected a number from {low} to {high}")


def _require_name(value: object, field: str) -> None:
    _require(value, str, field, "a string")
    if not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise _invalid(field, f"must have 1 to {MAX_NAME_LENGTH} characters")


def _check_spec(spec: ModelSpec) -> None:
    """Every number of the spec an int (or float dropout) in a sensible range."""
    for index, side in enumerate(spec.input_shape):
        _require_number(side, f"spec.input_shape[{index}]", 1, MAX_SIDE)
        _require(side, int, f"spec.input_shape[{index}]", "a whole number")
    _require_number(spec.num_classes, "spec.num_classes", 2, MAX_CLASSES)
    for index, block in enumerate(spec.conv_blocks):
        _check_block_numbers(block, f"spec.conv_blocks[{index}]")
    for index, layer in enumerate(spec.dense_layers):
        _require(layer.units, int, f"spec.dense_layers[{index}].units", "a whole number")
        _require_number(layer.units, f"spec.dense_layers[{index}].units", 1, MAX_UNITS)
        _require_number(layer.dropout, f"spec.dense_layers[{index}].dropout", 0, 0.99)


def _check_block_numbers(block: object, where: str) -> None:
    """A block's fields by their declared types: whole numbers from 1 to
    :data:`MAX_UNITS`, dropout rates from 0 to 0.99, true/false flags."""
    for item in dataclasses.fields(block):
        value, name = getattr(block, item.name), f"{where}.{item.name}"
        if item.type == "int":
            _require(value, int, name, "a whole number")
            _require_number(value, name, 1, MAX_UNITS)
        elif item.type == "float":
            _require_number(value, name, 0, 0.99)
        elif item.type == "bool":
            _require(value, bool, name, "true/false")


def _parse_spec(data: object) -> ModelSpec:
    _require(data, dict, "spec", "a map")
    try:
        spec = spec_from_dict(data)
    except ExplorerError as error:
        raise _invalid("spec", f"describes no buildable model ({error})") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as error:
        raise _invalid("spec", f"is malformed ({type(error).__name__})") from None
    _check_spec(spec)
    try:
        check_budget(spec)
    except ExplorerError as error:
        raise ExplorerError(
            f"This checkpoint was refused: its model is too large. {error}"
        ) from None
    return spec


def _check_dataset(dataset: object, spec: ModelSpec) -> None:
    _require(dataset, dict, "dataset", "a map")
    _require_name(dataset.get("name"), "dataset.name")
    try:
        check_recorded_name(dataset["name"])
    except ExplorerError as error:
        raise ExplorerError(f"This checkpoint was refused: {error}") from None
    class_names = dataset.get("class_names")
    _require(class_names, list, "dataset.class_names", "a list of strings")
    for index, name in enumerate(class_names):
        _require_name(name, f"dataset.class_names[{index}]")
    if len(set(class_names)) != len(class_names):
        repeated = next(name for name in class_names if class_names.count(name) > 1)
        raise _invalid("dataset.class_names", f"name {repeated!r} more than once")
    if len(class_names) != spec.num_classes:
        raise _refuse(
            f"its class names ({len(class_names)}) do not match the model's outputs "
            f"({spec.num_classes})"
        )
    preprocessing = dataset.get("preprocessing", "resize")
    if preprocessing not in PREPROCESSINGS:
        raise _invalid("dataset.preprocessing", f"must be one of {', '.join(PREPROCESSINGS)}")
    if "input_shape" in dataset:
        _require(dataset["input_shape"], list, "dataset.input_shape", "a list of 3 numbers")
        if tuple(dataset["input_shape"]) != spec.input_shape:
            raise _invalid("dataset.input_shape", "differs from the model's input shape")
    if "train_size" in dataset:
        _require(dataset["train_size"], int, "dataset.train_size", "a whole number")
        _require_number(dataset["train_size"], "dataset.train_size", 0, 2**40)
    if "split_seed" in dataset:
        _require(dataset["split_seed"], int, "dataset.split_seed", "a whole number")
        _require_number(dataset["split_seed"], "dataset.split_seed", 0, 2**32 - 1)
    if "test_fingerprint" in dataset:
        fingerprint = dataset["test_fingerprint"]
        _require(fingerprint, str, "dataset.test_fingerprint", "a string")
        if not re.fullmatch(r"[0-9a-f]{32}", fingerprint):
            raise _invalid("dataset.test_fingerprint", "must be 32 hexadecimal digits")
    if "data_folder" in dataset:
        _require(dataset["data_folder"], str, "dataset.data_folder", "a folder name")
        if not 0 < len(dataset["data_folder"]) <= 4096:
            raise _invalid("dataset.data_folder", "must be 1 to 4096 characters")


def _check_metrics(metrics: object) -> None:
    _require(metrics, dict, "metrics", "a map")
    for name in ACCURACY_METRICS:
        if metrics.get(name) is not None:
            _require_number(metrics[name], f"metrics.{name}", 0.0, 1.0)
    if metrics.get("test_loss") is not None:
        _require_number(metrics["test_loss"], "metrics.test_loss", 0.0, float("inf"))
    if "epochs" in metrics:
        _require(metrics["epochs"], list, "metrics.epochs", "a list")
        for index, record in enumerate(metrics["epochs"]):
            _require(record, dict, f"metrics.epochs[{index}]", "a map")
    if "config" in metrics:
        _require(metrics["config"], dict, "metrics.config", "a map")
        if metrics["config"].get("loss", DEFAULT_LOSS) not in LOSSES:
            raise _invalid("metrics.config.loss", f"must be one of {', '.join(LOSSES)}")
    if "params" in metrics:
        _require(metrics["params"], int, "metrics.params", "a whole number")


def training_loss(metadata: dict) -> str:
    """The loss named in validated metadata's training settings, else cross-entropy."""
    return metadata.get("metrics", {}).get("config", {}).get("loss", DEFAULT_LOSS)


def training_augmentation(metadata: dict) -> Augmentation | None:
    """The augmentation named in the metadata's training settings, or None where it is not
    recorded or not readable as one (only shown, so an odd record is not refused)."""
    recorded = metadata.get("metrics", {}).get("config", {}).get("augmentation")
    names = {field.name for field in dataclasses.fields(Augmentation)}
    if not isinstance(recorded, dict) or not set(recorded) <= names:
        return None
    amounts = [recorded.get(name, 0.0) for name in ("max_shift", "max_rotation", "max_scale")]
    if not all(
        isinstance(amount, int | float) and not isinstance(amount, bool) and 0 <= amount < 1e6
        for amount in amounts
    ) or not isinstance(recorded.get("horizontal_flip", False), bool):
        return None
    return Augmentation(**recorded)


def validate_metadata(metadata: object) -> ModelSpec:
    """Check a checkpoint's description field by field; returns its model spec.

    ``spec`` must build a model that fits the model budget
    (:func:`explorer.budget.check_budget`); ``dataset.name`` and every class name are
    non-empty strings of at most :data:`MAX_NAME_LENGTH` characters, the dataset name a
    registered one or an upload's label, never a path
    (:func:`explorer.data.registry.check_recorded_name`), the class names unique and one
    per model output; ``preprocessing`` is a known one; ``metrics`` is a map whose
    accuracies are numbers in [0, 1] and whose training ``config.loss``, when present, is
    one of ``explorer.losses.LOSSES`` (absent: cross-entropy); ``created`` is a string
    and ``versions`` a map.

    Raises:
        ExplorerError: naming the first field that is wrong and why.
    """
    _require(metadata, dict, "the description", "a map")
    spec = _parse_spec(metadata.get("spec"))
    _check_dataset(metadata.get("dataset"), spec)
    _check_metrics(metadata.get("metrics", {}))
    if "created" in metadata:
        _require(metadata["created"], str, "created", "a string")
    if "versions" in metadata:
        _require(metadata["versions"], dict, "versions", "a map")
    return spec


def _parse_metadata(raw: bytes) -> tuple[dict, ModelSpec]:
    try:
        metadata = json.loads(raw)
    except (ValueError, RecursionError):
        raise _refuse("its description is not valid JSON") from None
    return metadata, validate_metadata(metadata)


def _check_variables(variables: object, spec: ModelSpec) -> dict:
    """Compare a restored tree with the spec's expected shapes and dtypes (each stored as
    one of :data:`STORED_AS`); returns it with every array in the model's own dtype."""
    expected = variable_shapes(spec)
    if not isinstance(variables, dict):
        raise _refuse("it holds no model weights")
    got_leaves, got_tree = jax.tree_util.tree_flatten(variables)
    want_leaves, want_tree = jax.tree_util.tree_flatten(expected)
    if got_tree != want_tree:
        raise _refuse("its weights do not have the layers its model description lists")
    for got, want in zip(got_leaves, want_leaves, strict=True):
        stored_as = STORED_AS.get(np.dtype(want.dtype), (np.dtype(want.dtype),))
        if not isinstance(got, np.ndarray) or got.shape != want.shape or got.dtype not in stored_as:
            raise _refuse("a weight array has the wrong shape or type for the model")
    cast = [got.astype(want.dtype) for got, want in zip(got_leaves, want_leaves, strict=True)]
    return jax.tree_util.tree_unflatten(got_tree, cast)


def load_checkpoint_bytes(data: bytes) -> Checkpoint:
    """Validate and load a checkpoint from bytes (e.g. an upload).

    Raises:
        ExplorerError: truncated, altered, foreign or inconsistent data.
    """
    raw_metadata, payload = _unpack_envelope(data)
    metadata, spec = _parse_metadata(raw_metadata)
    try:
        variables = serialization.msgpack_restore(payload)
    except (ValueError, msgpack.exceptions.UnpackException, TypeError):
        raise _refuse("its weights cannot be decoded") from None
    return Checkpoint(_check_variables(variables, spec), spec, metadata)


def load_checkpoint(location: str | os.PathLike) -> Checkpoint:
    """Validate and load ``location`` (a run folder or a checkpoint file).

    Messages name the run folder (or the file) by its own name, never by its path: a page
    that opens a workspace's run must not show the server's folders or the workspace id.
    """
    path = checkpoint_path(location)
    shown = path.parent.name if path.name == CHECKPOINT_FILE else path.name
    remove_orphans(path.parent, TEMP_PATTERN)
    if not path.exists():
        raise ExplorerError(f"There is no checkpoint in “{shown}”.")
    try:
        data = read_regular_file(path, MAX_CHECKPOINT_BYTES)
    except ExplorerError as error:
        raise ExplorerError(f"Could not read the checkpoint in “{shown}”: {error}") from None
    return load_checkpoint_bytes(data)


def list_checkpoints(root: str | os.PathLike) -> list[CheckpointSummary]:
    """Every run folder under ``root`` with a checkpoint, newest first.

    Damaged or invalid checkpoints are listed with ``error`` set and ``metadata`` None
    (so no unchecked description reaches a page) instead of raising. Orphaned
    temporary files in the run folders are removed on the way.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    for folder in root.iterdir():
        remove_orphans(folder, TEMP_PATTERN)
    files = sorted(root.glob(f"*/{CHECKPOINT_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    summaries = []
    for file in files:
        try:
            data = read_regular_file(file, MAX_CHECKPOINT_BYTES)
            metadata, _ = _parse_metadata(_unpack_envelope(data)[0])
            summaries.append(CheckpointSummary(file.parent.name, file.parent, metadata))
        except ExplorerError as error:
            summaries.append(CheckpointSummary(file.parent.name, file.parent, None, str(error)))
    return summaries


def run_folder(root: str | os.PathLike, name: str) -> Path:
    """``root/name`` for a plain run name (no separators, no ``..``)."""
    if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", "\0")):
        raise ExplorerError(f"{name!r} is not a valid run name: use letters, digits, - and _.")
    return Path(root).expanduser() / name


def delete_checkpoint(root: str | os.PathLike, name: str) -> None:
    """Delete run ``name`` under ``root``: its checkpoint and metrics, then the empty folder.

    Files this project did not write are left in place (and so is the folder).

    Raises:
        ExplorerError: no such run, or the file system refused (naming no folder).
    """
    folder = run_folder(root, name)
    with os_errors_as_messages("delete the run"):
        if not (folder / CHECKPOINT_FILE).is_file():
            raise ExplorerError(f"There is no checkpoint called {name!r}.")
        remove_orphans(folder, TEMP_PATTERN)
        for file in RUN_FILES:
            (folder / file).unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()


MAX_RUN_NAME_CHARACTERS = 80
MAX_RUN_NAME_BYTES = 200
"""File systems limit a folder's name in bytes (usually 255), not characters: a run name
is at most this many bytes in UTF-8, which leaves room for ``.msgpack`` on a download."""


def check_run_name(name: str) -> str:
    """``name`` if it can name a new run: letters, digits, ``.``, ``_`` and ``-``, not only
    dots, at most :data:`MAX_RUN_NAME_CHARACTERS` characters and :data:`MAX_RUN_NAME_BYTES`
    bytes in UTF-8 (a letter beyond ASCII takes 2 to 4).

    Raises:
        ExplorerError: any of these fails.
    """
    if not re.fullmatch(r"[\w.-]+", name) or name.strip(".") == "":
        raise ExplorerError(
            f"{name!r} cannot name a run: use letters, digits, '.', '_' and '-' only."
        )
    size = len(name.encode())
    if len(name) > MAX_RUN_NAME_CHARACTERS or size > MAX_RUN_NAME_BYTES:
        raise ExplorerError(
            f"This name is too long for a run ({len(name)} characters, {size} bytes): use at "
            f"most {MAX_RUN_NAME_CHARACTERS} characters and {MAX_RUN_NAME_BYTES} bytes (a "
            "letter beyond plain ASCII takes 2 to 4 bytes)."
        )
    return name


def safe_run_name(text: str) -> str:
    """A name :func:`check_run_name` accepts, made from any text (an uploaded file's name):
    every other character becomes ``_``, leading dots go, and the end is cut to the limits;
    ``imported`` when nothing is left."""
    name = re.sub(r"[^\w.-]", "_", text).lstrip(".")[:MAX_RUN_NAME_CHARACTERS]
    while len(name.encode()) > MAX_RUN_NAME_BYTES:
        name = name[:-1]
    return name or "imported"


def rename_checkpoint(root: str | os.PathLike, old: str, new: str) -> None:
    """Rename run ``old`` under ``root`` to ``new`` (a name :func:`check_run_name` accepts,
    not taken).

    Raises:
        ExplorerError: no such run, a bad new name, a run called ``new`` exists, or the file
            system refused (naming no folder).
    """
    source = run_folder(root, old)
    target = run_folder(root, check_run_name(new))
    with os_errors_as_messages("rename the run"):
        if not (source / CHECKPOINT_FILE).is_file():
            raise ExplorerError(f"There is no checkpoint called {old!r}.")
        if target.exists():
            raise ExplorerError(f"There is already a run called {new!r}: choose another name.")
        os.rename(source, target)


def import_checkpoint(root: str | os.PathLike, name: str, data: bytes) -> Checkpoint:
    """Validate uploaded bytes, then store them atomically as run ``name`` under ``root``.

    Raises:
        ExplorerError: invalid bytes, a name :func:`check_run_name` refuses, a run called
            ``name`` exists, or the file system refused (naming no folder).
    """
    checkpoint = load_checkpoint_bytes(data)
    path = run_folder(root, check_run_name(name)) / CHECKPOINT_FILE
    with os_errors_as_messages("import the checkpoint"):
        if path.exists():
            raise ExplorerError(
                f"This session already has a model called {name!r}: delete it first or "
                "rename the file."
            )
    write_atomically(path, data)
    return checkpoint
