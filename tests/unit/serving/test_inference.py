"""Bounded request parsing (issue 14): Arrow IPC bodies and per-value text caps.

A compressed Arrow body is refused from its metadata, before a byte is
decompressed; rows and messages are counted the same way; only flat column
types are decoded. Every text value and field name, on the JSON and Arrow
paths, is held to ``Policy.max_string_chars`` characters without NUL, and a
refusal names the field without echoing the value.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from tests.unit.registry.conftest import train_artifact

from glmops import load_model
from glmops.model import Model
from glmops.serving.inference import (
    MAX_IPC_MESSAGES,
    Policy,
    Refusal,
    parse_arrow,
    parse_payload,
    score_rows,
)

POLICY = Policy()
ROW = {"x": 0.1, "z": -0.2, "city": "paris"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return load_model(train_artifact(tmp_path_factory.mktemp("inference"), 1))


def _ipc(table: pa.Table, *, compression: str | None = None, file: bool = False) -> bytes:
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=compression)
    opener = ipc.new_file if file else ipc.new_stream
    with opener(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _refusal(call: Any, *args: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        call(*args)
    return info.value


def _score(model: Model, payload: dict[str, Any], policy: Policy = POLICY) -> Any:
    return score_rows(model, parse_payload(payload, policy), policy)


# -- Arrow bodies: decompression bombs, rows, messages, types ---------------------------


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
@pytest.mark.parametrize("file", [False, True])
def test_a_compressed_arrow_body_is_refused_before_decompression(codec: str, file: bool) -> None:
    bomb = pa.table({"x": np.zeros(8 * 1024**2)})  # 64 MiB of zeros
    body = _ipc(bomb, compression=codec, file=file)
    assert len(body) < 64 * 1024**2 // 50  # a small request that decodes to 64 MiB
    del bomb
    before = pa.total_allocated_bytes()
    refusal = _refusal(parse_arrow, body, POLICY)
    assert refusal.status == 415 and "without compression" in str(refusal)
    assert refusal.errors[0]["field"] == "body"
    assert pa.total_allocated_bytes() - before < 1024**2  # nothing was decompressed


@pytest.mark.parametrize("file", [False, True])
def test_uncompressed_stream_and_file_bodies_score_as_before(model: Model, file: bool) -> None:
    table = pa.table({"x": [0.1, 0.5], "z": [-0.2, 0.3], "city": ["paris", "lyon"]})
    scored = score_rows(model, parse_arrow(_ipc(table, file=file), POLICY), POLICY)
    assert np.allclose(scored.decision, model.decision_function(table.to_pylist()).reshape(-1, 1))


def test_rows_and_messages_are_counted_from_the_metadata() -> None:
    nulls = pa.table({"x": pa.nulls(50_000_000)})  # no buffers: 50M rows in a few bytes
    refusal = _refusal(parse_arrow, _ipc(nulls), Policy(max_rows=100))
    assert refusal.status == 413 and refusal.errors[0]["field"] == "rows"
    empty = pa.record_batch({"x": pa.array([], pa.float64())})
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, empty.schema) as writer:
        for _ in range(MAX_IPC_MESSAGES + 5):
            writer.write_batch(empty)
    refusal = _refusal(parse_arrow, sink.getvalue().to_pybytes(), POLICY)
    assert refusal.status == 413 and "messages" in str(refusal)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([["paris"]]),
        pa.array(["paris"], pa.string_view()),
        pa.array([b"paris"]),
        pa.array([{"a": 1}]),
    ],
    ids=["list", "string_view", "binary", "struct"],
)
def test_only_flat_arrow_column_types_are_accepted(column: pa.Array) -> None:
    table = pa.table({"x": [0.1], "z": [0.2], "city": ["paris"], "extra": column})
    refusal = _refusal(parse_arrow, _ipc(table), POLICY)
    assert refusal.status == 422 and refusal.errors[0]["field"] == "extra"


def test_garbage_metadata_is_a_400_not_a_crash() -> None:
    body = bytearray(_ipc(pa.table({"x": [1.0]})))
    body[12:40] = b"\xff" * 28  # inside the schema message's flatbuffer
    assert _refusal(parse_arrow, bytes(body), POLICY).status == 400


# -- per-value text caps ---------------------------------------------------------------


def _arrow_city(values: pa.Array) -> bytes:
    n = len(values)
    return _ipc(pa.table({"x": [0.1] * n, "z": [0.2] * n, "city": values}))


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pa.array(["p" * 1025]), "too_long"),
        (pa.array(["paris", "é" * 1025], pa.large_string()), "too_long"),
        (pa.array(["p" * 100_000]).dictionary_encode(), "too_long"),
        (pa.array(["par\x00is"]), "wrong_type"),
    ],
    ids=["long", "long-unicode-large", "long-dictionary", "nul"],
)
def test_arrow_text_over_the_cap_is_refused_naming_the_field(values: pa.Array, kind: str) -> None:
    refusal = _refusal(parse_arrow, _arrow_city(values), POLICY)
    assert refusal.status == 422
    assert [(e["field"], e["kind"]) for e in refusal.errors] == [("city", kind)]
    assert "p" * 100 not in json.dumps(refusal.errors)


def test_the_cap_counts_characters_not_bytes(model: Model) -> None:
    at_cap = "é" * 1024  # 2048 bytes
    rows = parse_arrow(_arrow_city(pa.array([at_cap])), POLICY)
    assert rows.n == 1
    scored = _score(model, {"instances": [{**ROW, "city": at_cap}]})
    assert [v.kind for v in scored.notes] == ["unseen_category"]  # validated, not capped


def test_a_long_column_name_is_refused_without_echoing_it() -> None:
    name = "k" * 5000
    table = pa.table({"x": [0.1], "z": [0.2], "city": ["paris"], name: [1]})
    refusal = _refusal(parse_arrow, _ipc(table), POLICY)
    assert refusal.errors[0]["kind"] == "too_long"
    assert len(json.dumps(refusal.errors)) < 500


LONG = "x" * 5000


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instances": [{**ROW, "city": LONG}]}, "instances[0].city"),
        ({"instances": [{**ROW, "city": "pa\x00ris"}]}, "instances[0].city"),
        ({"instances": [{**ROW, LONG: 1}]}, "instances[0].'xxx"),
        ({"instances": [{**ROW, "city": LONG}] * 40}, "city"),
        ({"columns": ["x", "z", "city"], "data": [[0.1, 0.2, LONG]]}, "city"),
        ({"columns": ["x", "z", "city", LONG], "data": [[0.1, 0.2, "paris", 1]]}, "'xxx"),
    ],
    ids=["record", "record-nul", "record-key", "batch", "columnar", "columnar-name"],
)
def test_json_text_over_the_cap_is_refused_naming_the_field(
    model: Model, payload: dict[str, Any], field: str
) -> None:
    refusal = _refusal(_score, model, payload)
    assert refusal.status == 422
    assert refusal.errors[0]["field"].startswith(field)
    assert refusal.errors[0]["kind"] in ("too_long", "wrong_type")
    assert LONG not in json.dumps(refusal.errors) and LONG not in str(refusal)


@pytest.mark.parametrize("n", [1, 40])
def test_fields_kept_for_the_log_are_capped_too(model: Model, n: int) -> None:
    """Pass-through entity keys and (counted) unexpected fields reach the log."""
    policy = Policy(reject_unexpected=False, passthrough=frozenset({"customer"}))
    for extra in ({"customer": LONG}, {"note": LONG}):
        refusal = _refusal(_score, model, {"instances": [{**ROW, **extra}] * n}, policy)
        assert refusal.status == 422 and refusal.errors[0]["kind"] == "too_long"
    scored = _score(model, {"instances": [{**ROW, "customer": "c-1"}] * n}, policy)
    assert scored.decision.shape == (n, 1)


def test_the_cap_is_a_policy_setting(model: Model) -> None:
    policy = Policy(max_string_chars=4)
    refusal = _refusal(_score, model, {"instances": [ROW]}, policy)
    assert refusal.errors[0]["expected"].endswith("at most 4 characters")


def test_a_refusal_never_echoes_a_large_value(model: Model) -> None:
    refusal = _refusal(_score, model, {"instances": [{**ROW, "city": [LONG]}]})
    assert refusal.errors[0]["kind"] == "wrong_type"
    assert len(refusal.errors[0]["got"]) <= 80
