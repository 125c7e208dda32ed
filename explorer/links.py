"""Lab settings as text in a link: what each setting may be, and how it reads in a URL query.

A link carries only the settings that differ from their defaults, as ``name=text`` pairs.
Reading a link checks every value against its field; a value that is malformed, out of
range or unknown is replaced by its default and reported in a sentence meant for people,
so a stale or hostile link opens a working page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAX_TEXT = 600
"""Longest text accepted for one setting (a 11×11 kernel of 6-digit numbers fits)."""
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")
"""A whole number as a link writes it: ASCII digits only (``int`` would also read ``٣``)."""
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal number in ASCII (``float`` would also read ``٣``, ``1_0`` and `` 3 ``)."""


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (strings or ints), written as its text. ``renamed`` maps texts
    that older links used to the options they now stand for, so such links keep working."""

    options: tuple
    renamed: tuple[tuple[str, str], ...] = ()

    def parse(self, text: str):
        text = dict(self.renamed).get(text, text)
        for option in self.options:
            if str(option) == text:
                return option
        raise ValueError(f"is not one of {', '.join(map(str, self.options))}")

    def format(self, value) -> str:
        return str(value)


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high]."""

    low: int
    high: int

    def parse(self, text: str) -> int:
        if not WHOLE_NUMBER.fullmatch(text):
            raise ValueError(f"is not a whole number from {self.low} to {self.high}")
        value = int(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"is outside {self.low}–{self.high}")
        return value

    def format(self, value: int) -> str:
        return str(int(value))


@dataclass(frozen=True)
class FloatRange:
    """A number in [low, high], rounded to a multiple of ``step`` (a slider's grid)."""

    low: float
    high: float
    step: float

    def parse(self, text: str) -> float:
        value = _finite_number(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"is outside {self.low:g}–{self.high:g}")
        return round(round(value / self.step) * self.step, 10)

    def format(self, value: float) -> str:
        return f"{value:.6g}"


@dataclass(frozen=True)
class Flag:
    """True or False, written ``1`` or ``0``."""

    def parse(self, text: str) -> bool:
        if text not in ("0", "1"):
            raise ValueError("is not 0 or 1")
        return text == "1"

    def format(self, value: bool) -> str:
        return "1" if value else "0"


@dataclass(frozen=True)
class ChoiceList:
    """Several distinct ``options`` (possibly none), written comma-separated, in order."""

    options: tuple[str, ...]

    def parse(self, text: str) -> list[str]:
        names = [name for name in text.split(",") if name]
        unknown = [name for name in names if name not in self.options]
        if unknown:
            raise ValueError(f"has unknown names: {', '.join(unknown)}")
        if len(set(names)) != len(names):
            raise ValueError("lists a name twice")
        return names

    def format(self, value) -> str:
        return ",".join(value)


@dataclass(frozen=True)
class Name:
    """A name checked against the live list where it is used (a saved model, a view): here
    only its form, letters, digits, spaces and ``._/()-?:``, at most ``max_length``."""

    max_length: int = 120

    def parse(self, text: str) -> str:
        if not text or len(text) > self.max_length or not re.fullmatch(r"[\w .()/:?-]+", text):
            raise ValueError("is not a name this app could have made")
        return text

    def format(self, value: str) -> str:
        return str(value)


@dataclass(frozen=True)
class SquareKernel:
    """A k×k float32 kernel, k in [1, max_side], written row by row, comma-separated;
    each value finite with magnitude at most ``limit``."""

    max_side: int
    limit: float

    def parse(self, text: str) -> np.ndarray:
        values = [_finite_number(part) for part in text.split(",")]
        side = math.isqrt(len(values))
        if side * side != len(values) or not 1 <= side <= self.max_side:
            raise ValueError(f"needs k×k numbers with k from 1 to {self.max_side}")
        if max(abs(value) for value in values) > self.limit:
            raise ValueError(f"has a value beyond ±{self.limit:g}")
        return np.asarray(values, np.float32).reshape(side, side)

    def format(self, value: np.ndarray) -> str:
        return ",".join(f"{float(number):.6g}" for number in np.asarray(value).ravel())


def _finite_number(text: str) -> float:
    """``text`` as a float if it is a :data:`NUMBER` within float's range; else a
    ValueError whose message completes a sentence about the text."""
    if not NUMBER.fullmatch(text):
        raise ValueError("is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("is not a finite number")
    return value


def same_value(a, b) -> bool:
    """Whether two setting values are equal (arrays compared element by element)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=0, atol=5e-7))
    return a == b


def encode(values: Mapping, fields: Mapping, defaults: Mapping) -> dict[str, str]:
    """The URL query of ``values``: ``{name: text}`` for every field whose value is set and
    differs from its default (a name without a default is always written).

    Values a field cannot write (a saved drawing is not a sample another machine knows)
    are left out; :func:`unlinkable` names them.
    """
    query = {}
    for name, field in fields.items():
        if name not in values or (name in defaults and same_value(values[name], defaults[name])):
            continue
        text = field.format(values[name])
        if _parses(field, text):
            query[name] = text
    return query


def unlinkable(values: Mapping, fields: Mapping) -> list[str]:
    """The names of set values that a link cannot carry (their text would not read back)."""
    return [
        name
        for name, field in fields.items()
        if name in values and not _parses(field, field.format(values[name]))
    ]


def _parses(field, text: str) -> bool:
    try:
        field.parse(text)
    except ValueError:
        return False
    return True


def decode(query: Mapping[str, str], fields: Mapping) -> tuple[dict, list[str]]:
    """The settings a URL query asks for, and a sentence per value that could not be used.

    Args:
        query: ``{name: text}`` from the URL; names that are not fields are ignored.
        fields: ``{name: field}``.

    Returns:
        ``(values, problems)``: values only for names present and valid; each problem reads
        like ``"stride: '²' is not a whole number from 1 to 5"``.
    """
    values, problems = {}, []
    for name, field in fields.items():
        if name not in query:
            continue
        text = str(query[name])
        shown = text if len(text) <= 40 else text[:40] + "…"
        if len(text) > MAX_TEXT:
            problems.append(f"{name} is too long")
            continue
        try:
            values[name] = field.parse(text)
        except ValueError as error:
            problems.append(f"{name}: {shown!r} {error}")
    return values, problems
