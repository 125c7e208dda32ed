"""Read the data inside CIFAR-10's "python version" batches without unpickling.

Those batches are pickles of a dict of bytes, ints, lists and one NumPy array.
``pickle.load`` would run whatever code a crafted file names, so instead this
module walks the opcode stream with :func:`pickletools.genops` (a disassembler
that executes nothing) and interprets a small subset of opcodes itself. The only
"globals" it understands are the handful NumPy and Python use to describe an
array and a byte string, and it builds those values itself from raw bytes with
``np.frombuffer``; every other global or opcode is refused.
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field

import numpy as np

from explorer.errors import ExplorerError

_RECONSTRUCT = {"numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct"}
_FROMBUFFER = {"numpy.core.numeric _frombuffer", "numpy._core.numeric _frombuffer"}
_KNOWN_GLOBALS = _RECONSTRUCT | _FROMBUFFER | {"numpy ndarray", "numpy dtype", "_codecs encode"}
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"}
_BYTE_ORDERS = {"<", ">", "|", "="}


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass
class _DtypeStub:
    code: str
    byte_order: str = "|"

    def to_dtype(self) -> np.dtype:
        return np.dtype(self.byte_order + self.code)


@dataclass
class _ArrayStub:
    array: np.ndarray | None = field(default=None)


class _Mark:
    pass


def _fail(reason: str) -> ExplorerError:
    return ExplorerError(f"This is not a CIFAR-10 python batch we can read safely: {reason}.")


def _dtype_from(name: object) -> _DtypeStub:
    code = name.decode("latin-1") if isinstance(name, bytes) else name
    if code not in _DTYPES:
        raise _fail(f"unsupported array type {code!r}")
    return _DtypeStub(code)


def _array_from(raw: object, dtype: object, shape: object, fortran: bool) -> np.ndarray:
    if not isinstance(dtype, _DtypeStub) or not isinstance(raw, bytes | bytearray):
        raise _fail("malformed array")
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise _fail("malformed array shape")
    array = np.frombuffer(bytes(raw), dtype=dtype.to_dtype())
    if array.size != int(np.prod(shape)):
        raise _fail("the array's data does not match its shape")
    return array.reshape(shape, order="F" if fortran else "C").copy()


def _reduce(func: object, args: object) -> object:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise _fail("it calls something other than the known array constructors")
    if func.name == "_codecs encode" and len(args) == 2 and isinstance(args[0], str):
        return args[0].encode("latin-1")
    if func.name in _RECONSTRUCT:
        return _ArrayStub()
    if func.name == "numpy dtype" and args:
        return _dtype_from(args[0])
    if func.name in _FROMBUFFER and len(args) == 4:
        raw, dtype, shape, order = args
        return _array_from(raw, dtype, shape, order == "F")
    raise _fail(f"it calls {func.name!r}")


def _build(target: object, state: object) -> None:
    if isinstance(target, _DtypeStub) and isinstance(state, tuple) and len(state) > 1:
        if state[1] not in _BYTE_ORDERS:
            raise _fail("unknown byte order")
        target.byte_order = state[1]
    elif isinstance(target, _ArrayStub) and isinstance(state, tuple) and len(state) == 5:
        _, shape, dtype, fortran, raw = state
        if isinstance(raw, str):
            raw = raw.encode("latin-1")
        target.array = _array_from(raw, dtype, shape, bool(fortran))
    else:
        raise _fail("unexpected object state")


def _resolve(value: object) -> object:
    """Replace array stubs by their arrays, recursively through dicts/lists/tuples."""
    if isinstance(value, _ArrayStub):
        if value.array is None:
            raise _fail("an array was never filled in")
        return value.array
    if isinstance(value, dict):
        return {_resolve(k): _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v) for v in value)
    if isinstance(value, _Global | _DtypeStub | _Mark):
        raise _fail("a reference was left dangling")
    return value


def _pop_to_mark(stack: list) -> list:
    for index in range(len(stack) - 1, -1, -1):
        if isinstance(stack[index], _Mark):
            items = stack[index + 1 :]
            del stack[index:]
            return items
    raise _fail("unbalanced MARK")


_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_PUSH_ARG = {
    "BININT",
    "BININT1",
    "BININT2",
    "INT",
    "LONG",
    "LONG1",
    "LONG4",
    "BINFLOAT",
    "FLOAT",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "SHORT_BINBYTES",
    "BINBYTES",
    "BINBYTES8",
}
_PY2_STRINGS = {"BINSTRING", "SHORT_BINSTRING"}
_TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_IGNORED = {"PROTO", "FRAME"}


def read_pickled_data(data: bytes) -> object:
    """Interpret a pickle of plain data and NumPy arrays without executing it.

    Args:
        data: the bytes of a pickle (protocols 2–5) whose content is built from dicts,
            lists, tuples, ints, floats, strings, bytes, None/bools and NumPy arrays of
            plain numeric types. Python 2 ``str`` values come back as ``bytes``.

    Returns:
        The reconstructed value.

    Raises:
        ExplorerError: the stream uses any other construct, or is truncated/corrupt.
    """
    stack: list = []
    memo: dict[int, object] = {}
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            if name in _IGNORED:
                continue
            if name == "STOP":
                if len(stack) != 1:
                    raise _fail("the stream ends with a malformed stack")
                return _resolve(stack.pop())
            _step(name, arg, stack, memo)
    except ExplorerError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, EOFError) as error:
        raise _fail(f"it is truncated or corrupt ({error})") from None
    raise _fail("it is truncated (no STOP)")


def _step(name: str, arg: object, stack: list, memo: dict[int, object]) -> None:
    """Apply one opcode to the stack and memo."""
    if name in _CONSTANTS:
        stack.append(_CONSTANTS[name])
    elif name in _PUSH_ARG:
        stack.append(arg)
    elif name in _PY2_STRINGS:
        stack.append(arg.encode("latin-1"))
    elif name == "BYTEARRAY8":
        stack.append(bytearray(arg))
    elif name == "MARK":
        stack.append(_Mark())
    elif name == "EMPTY_DICT":
        stack.append({})
    elif name == "EMPTY_LIST":
        stack.append([])
    elif name in _TUPLE_SIZES:
        size = _TUPLE_SIZES[name]
        items = stack[len(stack) - size :] if size else []
        del stack[len(stack) - size :]
        stack.append(tuple(items))
    elif name == "TUPLE":
        stack.append(tuple(_pop_to_mark(stack)))
    elif name == "LIST":
        stack.append(_pop_to_mark(stack))
    elif name == "DICT":
        items = _pop_to_mark(stack)
        stack.append(dict(zip(items[::2], items[1::2], strict=True)))
    elif name == "APPEND":
        value = stack.pop()
        stack[-1].append(value)
    elif name == "APPENDS":
        items = _pop_to_mark(stack)
        stack[-1].extend(items)
    elif name == "SETITEM":
        value, key = stack.pop(), stack.pop()
        stack[-1][key] = value
    elif name == "SETITEMS":
        items = _pop_to_mark(stack)
        stack[-1].update(zip(items[::2], items[1::2], strict=True))
    elif name in {"BINPUT", "LONG_BINPUT", "PUT"}:
        memo[arg] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in {"BINGET", "LONG_BINGET", "GET"}:
        stack.append(memo[arg])
    elif name == "POP":
        stack.pop()
    elif name == "GLOBAL":
        _push_global(stack, arg)
    elif name == "STACK_GLOBAL":
        attribute, module = stack.pop(), stack.pop()
        _push_global(stack, f"{module} {attribute}")
    elif name == "REDUCE":
        args, func = stack.pop(), stack.pop()
        stack.append(_reduce(func, args))
    elif name == "BUILD":
        state = stack.pop()
        _build(stack[-1], state)
    else:
        raise _fail(f"it uses the pickle instruction {name}")


def _push_global(stack: list, name: str) -> None:
    if name not in _KNOWN_GLOBALS:
        raise _fail(f"it refers to {name!r}")
    stack.append(_Global(name))
