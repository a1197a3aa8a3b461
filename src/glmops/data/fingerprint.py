"""Content hash of a table: the data fingerprint recorded in a model's lineage.

Two reads of the same rows give the same fingerprint whatever the chunking,
the file format or the bytes Arrow leaves in null slots: each column is
hashed from canonical buffers (values with nulls zeroed, a validity mask,
normalized string offsets), in column order, with its name and type.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["table_fingerprint"]


def _column_bytes(arr: pa.Array) -> list[bytes]:
    valid = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=np.uint8)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if pa.types.is_string(arr.type):
        filled = pc.fill_null(arr, "") if arr.null_count else arr
        if isinstance(filled, pa.ChunkedArray):
            filled = filled.combine_chunks()
        offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[
            filled.offset : filled.offset + len(filled) + 1
        ]
        data = filled.buffers()[2]
        body = b"" if data is None else data.to_pybytes()[int(offsets[0]) : int(offsets[-1])]
        return [valid.tobytes(), (offsets - offsets[0]).tobytes(), body]
    if pa.types.is_boolean(arr.type):
        values = np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.uint8)
        return [valid.tobytes(), values.tobytes()]
    if pa.types.is_null(arr.type):
        return [valid.tobytes()]
    if pa.types.is_decimal(arr.type):
        # exact: a float cast would merge decimals that differ past 17 digits
        return _column_bytes(pc.cast(arr, pa.string()))
    try:
        as_float = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [valid.tobytes(), str(arr.to_pylist()).encode()]
    values = np.asarray(pc.fill_null(as_float, 0.0).to_numpy(zero_copy_only=False), np.float64)
    return [valid.tobytes(), values.tobytes()]


def table_fingerprint(table: pa.Table) -> str:
    """Return the SHA-256 (hex) of ``table``'s column names, types and values."""
    digest = hashlib.sha256()
    digest.update(f"rows={table.num_rows}".encode())
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        digest.update(f"\0{name}\0{column.type}\0".encode())
        for part in _column_bytes(column):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()
