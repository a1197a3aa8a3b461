"""Arrow arrays to and from numpy and Python values, through their buffers.

``pyarrow.array``, ``pyarrow.scalar`` and ``Array.to_numpy`` first ask
whether pandas is involved, and that question imports pandas wherever it
is installed: +45 MiB of resident memory and ~0.4 s, the first time. The
serving process converts arrays on its request path and in its log writer
and never needs pandas, so those conversions go through buffers here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np


class LazyModule:
    """A module imported at the first read of one of its attributes.

    A server whose first requests are JSON records never needs Arrow: pyarrow's
    import costs ~80 ms of start-up and ~60 MiB of shared libraries, paid here
    only when a batch, an Arrow body or the prediction log first converts rows.
    Each attribute read is kept, so later reads are plain attribute reads.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa = LazyModule("pyarrow")
    pc = LazyModule("pyarrow.compute")

__all__ = [
    "LazyModule",
    "bools",
    "floats",
    "indices",
    "int32s",
    "mask",
    "repeat_string",
    "strings",
    "timestamps_us",
    "to_bool",
    "to_float64",
    "to_int",
]

_MAX_OFFSET = 2**31 - 1


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    """Return Arrow's validity bitmap for a boolean mask, or None when all are valid."""
    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def floats(values: np.ndarray | Sequence[float | int | None]) -> pa.Array:
    """Return a float64 array; NaN and None become null.

    Raises OverflowError or TypeError (from numpy) for a value that is not a
    number of float64's range.
    """
    data = np.ascontiguousarray(values, dtype=np.float64)
    missing = np.isnan(data)
    validity = _validity(~missing) if missing.any() else None
    return pa.Array.from_buffers(pa.float64(), len(data), [validity, pa.py_buffer(data)])


def mask(values: np.ndarray) -> pa.Array:
    """Return a boolean array (no nulls) from a numpy boolean array, e.g. for ``filter``."""
    data = np.ascontiguousarray(values, dtype=bool)
    buffer = pa.py_buffer(np.packbits(data, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(data), [None, buffer])


def bools(values: Sequence[bool | None]) -> pa.Array:
    """Return a boolean array; None becomes null."""
    n = len(values)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    truth = np.fromiter((v is True for v in values), dtype=bool, count=n)
    data = pa.py_buffer(np.packbits(truth, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), n, [_validity(valid), data])


def strings(values: Sequence[Any]) -> pa.Array:
    """Return a string array of ``str(v)`` for each value; None becomes null."""
    n = len(values)
    encoded = [b"" if v is None else (v if isinstance(v, str) else str(v)).encode() for v in values]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    total = int(lengths.sum())
    large = total > _MAX_OFFSET
    offsets = np.zeros(n + 1, dtype=np.int64 if large else np.int32)
    np.cumsum(lengths, out=offsets[1:])
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    buffers = [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string() if large else pa.string(), n, buffers)


def indices(values: np.ndarray) -> pa.Array:
    """Return an int64 array (positions for ``take``)."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def int32s(values: np.ndarray) -> pa.Array:
    """Return an int32 array."""
    data = np.ascontiguousarray(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(data), [None, pa.py_buffer(data)])


def repeat_string(value: str | None, n: int) -> pa.Array:
    """Return ``value`` repeated ``n`` times (null when None)."""
    if value is None:
        return pa.nulls(n, pa.string())
    return strings([value]).take(indices(np.zeros(n, dtype=np.int64)))


def timestamps_us(unix_us: np.ndarray) -> pa.Array:
    """Return a timestamp[us, UTC] array from microseconds since the epoch."""
    data = np.ascontiguousarray(unix_us, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.timestamp("us", tz="UTC"), len(data), [None, pa.py_buffer(data)]
    )


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    raw = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little", count=offset + n)[offset:].astype(bool)


def to_float64(arr: pa.Array | pa.ChunkedArray, *, copy: bool = True) -> np.ndarray:
    """Return a numeric or boolean array as a float64 numpy array; null becomes NaN.

    With ``copy=False`` a float64 array without nulls comes back as a read-only
    view of Arrow's buffer (no copy); anything else is always a new array.
    """
    arr = _plain(arr)
    if arr.type != pa.float64():
        import pyarrow.compute as pc

        arr = pc.cast(arr, pa.float64(), safe=False)
    n = len(arr)
    if n == 0:
        return np.empty(0)
    validity, data = arr.buffers()[:2]
    values = np.frombuffer(data, dtype=np.float64, count=n, offset=arr.offset * 8)
    if copy or arr.null_count:
        values = values.copy()
    if arr.null_count:
        values[~_bits(validity, arr.offset, n)] = np.nan
    return values


def to_int(arr: pa.Array | pa.ChunkedArray, null: int | None = None) -> np.ndarray:
    """Return a signed integer array as a new numpy intp array; null becomes ``null``."""
    arr = _plain(arr)
    if arr.null_count and null is None:
        raise ValueError("to_int needs a value for nulls")
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    validity, data = arr.buffers()[:2]
    dtype = np.dtype(f"int{arr.type.bit_width}")
    values = np.frombuffer(data, dtype=dtype, count=n, offset=arr.offset * dtype.itemsize)
    out = values.astype(np.intp)
    if arr.null_count and null is not None:
        out[~_bits(validity, arr.offset, n)] = null
    return out


def to_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return a boolean array without nulls as a numpy bool array."""
    arr = _plain(arr)
    if arr.null_count:
        raise ValueError("to_bool needs an array without nulls")
    n = len(arr)
    return _bits(arr.buffers()[1], arr.offset, n) if n else np.zeros(0, dtype=bool)
