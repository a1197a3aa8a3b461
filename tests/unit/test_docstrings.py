"""numpydoc validation of the public API (STYLE.md section 4)."""

from __future__ import annotations

import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import glmops  # noqa: E402

# the checks we hold the public API to: every parameter documented, no
# stale ones, a docstring on every public object, a summary line
CHECKS = {"GL08", "PR01", "PR02", "SS01"}


def _public_objects() -> list[str]:
    names = []
    for name in glmops.__all__:
        obj = getattr(glmops, name)
        if inspect.isclass(obj) and issubclass(obj, Exception | Warning):
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        names.append(f"glmops.{name}")
        if inspect.isclass(obj):
            methods = ("fit", "predict", "predict_proba", "decision_function", "transform")
            methods += ("explain", "validate", "save") if obj is glmops.Model else ()
            for method in methods:
                if method in vars(obj):
                    names.append(f"glmops.{name}.{method}")
    return names


@pytest.mark.parametrize("name", _public_objects())
def test_public_docstring_is_valid(name):
    result = numpydoc_validate.validate(name)
    errors = [(code, msg) for code, msg in result["errors"] if code in CHECKS]
    assert not errors, f"{name}: {errors}"
