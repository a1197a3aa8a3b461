"""The request path's shortcuts give the answers and refusals of the paths they skip.

- the record path's set checks (text cap, unexpected fields) and the nulls that
  ``transform_record`` reports, against the per-field loop they replace
  (:func:`_reference_records`, the loop as it was);
- the columnar body's one numpy conversion (:func:`_number_matrix`), against the
  per-value type check it skips;
- ``Model.check_scores`` on a few scores, the request id and the header lookups.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from starlette.datastructures import Headers
from tests.unit.registry.conftest import train_artifact

from glmops import load_model
from glmops.config import parse_config
from glmops.data.schema import Violation
from glmops.errors import SchemaValidationError, ScoreOverflowError
from glmops.model import Model
from glmops.serving import inference
from glmops.serving.errors import FirstHeaders, _uuid4_hex
from glmops.serving.inference import (
    Policy,
    Refusal,
    Rows,
    Scored,
    _problem,
    _summary,
    _text_problems,
    parse_payload,
    score_rows,
)
from glmops.training.pipeline import train_model

LONG = "x" * 5_000
POLICIES = [
    Policy(),
    Policy(reject_unexpected=False, passthrough=frozenset({"customer"})),
    Policy(max_string_chars=4),
]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """Binary model on x, z (numeric) and city (categorical)."""
    return load_model(train_artifact(tmp_path_factory.mktemp("fast-mixed"), 1))


@pytest.fixture(scope="module")
def numeric(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """Regression on numeric features only (the shape the shortcuts are for)."""
    root = tmp_path_factory.mktemp("fast-numeric")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": X @ [1.0, -2.0, 0.5]})
    spec = parse_config(
        {
            "models": {
                "num": {
                    "data": {"path": "unused.csv"},
                    "target": "y",
                    "task": "regression",
                    "cv": {"n_folds": 3, "n_alphas": 5, "l1_ratio": [1.0]},
                }
            }
        }
    ).models["num"]
    result = train_model("num", spec, base_dir=root, output_dir=root / "out", data=table)
    assert result.artifact_path is not None
    return load_model(result.artifact_path)


def _reference_records(model: Model, rows: Rows, policy: Policy) -> Scored:
    """The record path's per-field loop before its shortcuts (the oracle)."""
    pre = model.preprocessor
    extra = {pre.schema.target} if pre.schema.target else set()
    known = frozenset(pre.schema.names) | policy.passthrough | extra
    names = pre.schema.names
    X = np.empty((rows.n, pre.n_features_out))
    problems: list[dict[str, Any]] = []
    notes: list[Violation] = []
    missing: dict[str, int] = {}
    prefix = "instances" if rows.records is not None else "data"
    for i in range(rows.n):
        record = rows.record(i)
        too_long = _text_problems(record.items(), policy.max_string_chars, f"{prefix}[{i}]")
        if too_long:
            problems.extend(too_long)
            continue
        unexpected = [k for k in record if k not in known]
        if unexpected and policy.reject_unexpected:
            problems.extend(
                _problem(f"{prefix}[{i}].{k}", "unexpected_column", "no such field (not a feature)")
                for k in unexpected
            )
        try:
            X[i], found = pre.transform_record(record)
        except SchemaValidationError as exc:
            for v in exc.violations:
                problems.append(
                    _problem(f"{prefix}[{i}].{v['column']}", v["kind"], v["expected"], v["example"])
                )
            continue
        notes.extend(found)
        for name in names:
            if record.get(name) is None:
                missing[name] = missing.get(name, 0) + 1
        if unexpected and not policy.reject_unexpected:
            notes.extend(
                Violation(str(k), "unexpected_column", "a manifest field", 1) for k in unexpected
            )
    if policy.reject_out_of_range:
        problems.extend(
            _problem(v.column, v.kind, v.expected, v.example)
            for v in notes
            if v.kind == "out_of_range"
        )
    if problems:
        raise Refusal(422, _summary(problems), problems)
    with np.errstate(over="ignore", invalid="ignore"):
        return Scored(X @ model.coef.T + model.intercept, notes, missing)


def _outcome(call: Any) -> tuple[Any, ...]:
    """What a scoring call answers: its refusal, or decision values, notes and nulls."""
    try:
        scored = call()
    except Refusal as exc:
        return ("refused", exc.status, str(exc), exc.errors)
    decision = np.asarray(scored.decision)
    return ("scored", decision.tobytes(), decision.shape, scored.notes, scored.missing)


NUMERIC_CELLS = [
    1.5,
    -3,
    0,
    1,
    0.0,
    1.0,
    None,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "abc",
    "1.5",
    LONG,
    "a\x00b",
    [1.0],
    {"v": 1},
    10**30,
    2**63,
    1e308,
]


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "lenient", "cap4"])
@pytest.mark.parametrize("cell", NUMERIC_CELLS, ids=repr)
def test_record_shortcuts_answer_as_the_per_field_loop(
    numeric: Model, mixed: Model, policy: Policy, cell: Any
) -> None:
    base_n = {"a": 0.1, "b": -0.2, "c": 0.3}
    base_m = {"x": 0.1, "z": -0.2, "city": "paris"}
    records = [
        {**base_n, "b": cell},
        {"b": cell, "a": 0.5, "c": 1.0},  # another key order
        {**base_n, "extra": cell},
        {**base_n, "customer": cell},
        {"a": cell, "c": 2.0},  # a feature missing
        {**base_n, LONG: 1.0},
        {**base_m, "z": cell},
        {**base_m, "city": cell},
        {**base_m, "customer": cell},
    ]
    for record in records:
        model = mixed if "city" in record or "x" in record else numeric
        rows = Rows(1, records=[record])
        fast = _outcome(lambda: score_rows(model, rows, policy))  # noqa: B023
        slow = _outcome(lambda: _reference_records(model, rows, policy))  # noqa: B023
        if slow[0] == "scored":  # score_rows also refuses overflowing scores
            assert fast[0] == "scored" or fast[3][0]["kind"] == "out_of_range"
        if fast[0] == "scored" or slow[0] == "refused":
            assert fast == slow, record


def test_nulls_are_counted_per_feature_as_before(mixed: Model, numeric: Model) -> None:
    rows = Rows(4, records=[{"a": None, "b": None, "c": 1.0}, {"a": None, "b": 2, "c": 0}] * 2)
    assert score_rows(numeric, rows, Policy()).missing == {"a": 4, "b": 2}
    rows = Rows(1, records=[{"x": None, "z": 0.0, "city": None}])
    fast = score_rows(mixed, rows, Policy()).missing
    assert fast == _reference_records(mixed, rows, Policy()).missing == {"x": 1, "city": 1}


def _columnar(cells: list[list[Any]]) -> dict[str, Any]:
    return {"columns": ["a", "b", "c"], "data": cells}


@pytest.mark.parametrize("cell", NUMERIC_CELLS, ids=repr)
@pytest.mark.parametrize("n", [1, 20, 40])
def test_the_numpy_conversion_answers_as_the_per_value_check(
    numeric: Model, monkeypatch: pytest.MonkeyPatch, cell: Any, n: int
) -> None:
    rng = np.random.default_rng(n)
    data = rng.normal(size=(n, 3)).tolist()
    data[n // 2][1] = cell
    data[0][0] = 1  # an int 1 beside a bool elsewhere: numpy reads both as 1.0
    payloads = [_columnar(data), _columnar([[*row, 0.5] for row in data])]  # too wide
    payloads[1]["columns"] = ["a", "b", "c", "d"]
    for payload in payloads:
        try:
            rows = parse_payload(payload, Policy())
        except Refusal as exc:  # the same refusal whichever path scores
            assert exc.status in (413, 422)
            continue
        fast = _outcome(lambda: score_rows(numeric, rows, Policy()))  # noqa: B023
        with monkeypatch.context() as patched:
            patched.setattr(inference, "_number_matrix", lambda _rows: None)
            again = parse_payload(payload, Policy())
            slow = _outcome(lambda: score_rows(numeric, again, Policy()))  # noqa: B023
        assert fast == slow


def test_a_bool_among_numbers_is_refused_not_read_as_one(numeric: Model) -> None:
    for bad in (True, False):
        payload = _columnar([[1.0, 0.0, 1], [0.5, bad, 0.25]])
        with pytest.raises(Refusal) as info:
            score_rows(numeric, parse_payload(payload, Policy()), Policy())
        assert info.value.errors[0]["field"].endswith("b")
        assert info.value.errors[0]["kind"] == "wrong_type"


def test_ragged_rows_and_wrong_widths_are_refused_before_any_conversion() -> None:
    for data in ([[1.0, 2.0, 3.0], [1.0, 2.0]], [[1.0, 2.0, 3.0, 4.0]], [[1.0, [2.0], 3.0]]):
        try:
            rows = parse_payload(_columnar(data), Policy())
        except Refusal as exc:
            assert exc.status == 422 and exc.errors[0]["kind"] == "wrong_type"
        else:  # a nested list is a row of the right width: numpy must not take it
            assert inference._number_matrix(rows) is None


@pytest.mark.parametrize(
    "decision",
    [[[np.inf]], [[1.0], [np.nan]], [[1.0, 2.0], [3.0, -np.inf]], [[1.0] * 3] * 3],
)
def test_check_scores_on_a_few_scores_as_on_many(decision: list[list[float]]) -> None:
    few = np.array(decision)
    many = np.vstack([np.zeros((20, few.shape[1])), few])
    outcomes = []
    for values, first in ((few, 0), (many, -20)):
        try:
            Model.check_scores(values, first_row=first)
            outcomes.append(None)
        except ScoreOverflowError as exc:
            outcomes.append((exc.rows, str(exc).split(" cannot")[0]))
    assert outcomes[0] == outcomes[1]


def test_request_ids_are_uuid4_hex() -> None:
    for _ in range(200):
        rid = _uuid4_hex()
        parsed = uuid.UUID(hex=rid)
        assert rid == parsed.hex and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_first_headers_look_up_as_starlette_does() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"x-request-id", b"first"),
        (b"x-request-id", b"second"),
        (b"authorization", b"Bearer t"),
    ]
    scope = {"type": "http", "headers": raw}
    ours, theirs = FirstHeaders(scope), Headers(scope={"type": "http", "headers": list(raw)})
    for name in ("Content-Type", "x-request-id", "AUTHORIZATION", "x-entity-key"):
        assert ours.get(name) == theirs.get(name)
        assert (name in ours) == (name in theirs)
    assert ours["x-request-id"] == theirs["x-request-id"] == "first"
    with pytest.raises(KeyError):
        ours["absent"]
