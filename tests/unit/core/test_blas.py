"""The in-place syrk against numpy on every layout it accepts."""

from __future__ import annotations

import numpy as np
import pytest

from glmops.core._blas import syrk_available, syrk_rows


@pytest.mark.parametrize("order", ["F", "C"])
def test_syrk_rows_sums_row_blocks_into_the_upper_triangle(order):
    rng = np.random.default_rng(0)
    X = np.asarray(rng.normal(size=(500, 23)), order=order)
    G = np.zeros((23, 23), order="F")
    for start, stop in [(7, 200), (200, 201), (201, 500)]:
        syrk_rows(X, start, stop, G)
    expected = X[7:].T @ X[7:]
    np.testing.assert_allclose(np.triu(G), np.triu(expected), rtol=1e-12, atol=1e-12)
    assert np.all(np.tril(G, -1) == 0.0)  # the lower triangle is never written


def test_syrk_available_only_for_contiguous_float64():
    X = np.ones((10, 3))
    assert syrk_available(X)
    assert syrk_available(np.asfortranarray(X))
    assert not syrk_available(X.astype(np.float32))
    assert not syrk_available(X[:, ::2])
    assert not syrk_available(X[::2])


def test_syrk_rows_refuses_a_c_ordered_result():
    X = np.ones((10, 3))
    with pytest.raises(ValueError, match="Fortran-ordered"):
        syrk_rows(X, 0, 10, np.zeros((3, 3)))
