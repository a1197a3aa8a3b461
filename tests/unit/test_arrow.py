"""glmops._arrow: buffer-built conversions equal pyarrow's own, and never import pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.registry.conftest import artifacts  # noqa: F401 (fixture)

from glmops import _arrow

OPTIONAL_FLOAT = st.one_of(
    st.none(), st.floats(allow_nan=False, width=64), st.integers(-(2**53), 2**53)
)


@settings(deadline=None, max_examples=200)
@given(st.lists(OPTIONAL_FLOAT, max_size=40))
def test_floats_equal_pyarrow(values):
    assert _arrow.floats(values).equals(pa.array(values, pa.float64()))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=40))
def test_strings_equal_pyarrow(values):
    assert _arrow.strings(values).equals(pa.array(values, pa.string()))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.none(), st.booleans()), max_size=40))
def test_bools_equal_pyarrow(values):
    assert _arrow.bools(values).equals(pa.array(values, pa.bool_()))


@settings(deadline=None, max_examples=200)
@given(st.lists(OPTIONAL_FLOAT, min_size=1, max_size=40), st.data())
def test_to_numpy_of_a_slice_with_nulls(values, data):
    arr = pa.array(values, pa.float64())
    start = data.draw(st.integers(0, len(values) - 1))
    part = arr.slice(start)
    expected = np.array([np.nan if v is None else v for v in values[start:]], dtype=float)
    np.testing.assert_array_equal(_arrow.to_float64(part), expected)
    np.testing.assert_array_equal(
        _arrow.to_float64(pa.chunked_array([part, part])), np.concatenate([expected, expected])
    )
    small = [None if v is None else i % 7 for i, v in enumerate(values[start:])]
    ints = pa.array(small, pa.int32())
    want = np.array([-1 if v is None else v for v in small])
    np.testing.assert_array_equal(_arrow.to_int(ints, null=-1), want)
    np.testing.assert_array_equal(
        _arrow.to_bool(pc.is_null(part)), [v is None for v in values[start:]]
    )


def test_other_numeric_types_and_empty_arrays():
    np.testing.assert_array_equal(
        _arrow.to_float64(pa.array([1, None, 3], pa.int8())), [1.0, np.nan, 3.0]
    )
    np.testing.assert_array_equal(_arrow.to_float64(pa.array([True, False])), [1.0, 0.0])
    assert _arrow.to_float64(pa.array([], pa.float64())).shape == (0,)
    assert _arrow.to_int(pa.array([], pa.int32())).shape == (0,)
    assert _arrow.to_bool(pa.array([], pa.bool_())).shape == (0,)
    with pytest.raises(ValueError, match="nulls"):
        _arrow.to_int(pa.array([1, None]))
    with pytest.raises(OverflowError):
        _arrow.floats([10**400])
    assert _arrow.repeat_string("a", 3).to_pylist() == ["a"] * 3
    assert _arrow.repeat_string(None, 2).null_count == 2
    assert _arrow.mask(np.array([True, False, True])).to_pylist() == [True, False, True]
    ts = _arrow.timestamps_us(np.array([0, 1_000_000]))
    assert ts.type == pa.timestamp("us", tz="UTC") and ts[1].as_py().second == 1


def test_serving_a_batch_and_writing_its_log_never_imports_pandas(tmp_path, artifacts):  # noqa: F811
    """pandas costs the server ~45 MiB of memory; pyarrow imports it on first use of
    pa.array, pa.scalar or to_numpy, so the serving path avoids all three."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from glmops.config import PredictionLogConfig
        from glmops.model import load_model
        from glmops.serving.inference import Policy, parse_payload, score_rows
        from glmops.serving.metrics import ServingMetrics
        from glmops.serving.predlog import Entry, PredictionLog
        from glmops.serving.routing import Slot

        model = load_model({str(artifacts[0])!r})
        rows = [{{"x": i / 7, "z": None if i % 5 else 1.0, "city": ["paris", "rome", None][i % 3]}}
                for i in range(40)]
        config = PredictionLogConfig(path={str(tmp_path / "log")!r})
        log = PredictionLog(config, ServingMetrics("t"))
        log.start()
        policy = Policy()
        for payload in ({{"instances": rows}}, {{"instances": rows[:2]}},
                        {{"columns": ["x", "z", "city"],
                          "data": [[r["x"], r["z"], r["city"]] for r in rows]}}):
            parsed = parse_payload(payload, policy)
            scored = score_rows(model, parsed, policy)
            log.append(Entry("r", time.time(), Slot("churn", 1, "d", model, "champion"), None,
                             parsed, scored.table, scored.decision, 0.1))
        assert log.flush(20) and log.written == 82, log.written
        log.close()
        print("pandas" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
