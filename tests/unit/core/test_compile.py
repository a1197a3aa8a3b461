"""numba kernels compile once per dtype signature, never per call."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import glmops
from glmops.core import kernels


def test_kernels_compile_once_per_dtype_signature():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 80))
    y = rng.standard_normal(60)
    for _ in range(3):
        for dtype in (np.float64, np.float32):
            glmops.ElasticNet(alpha=0.1, solver="naive").fit(np.asfortranarray(X.astype(dtype)), y)
            glmops.ElasticNet(alpha=0.1, solver="naive").fit(sp.csc_matrix(X.astype(dtype)), y)
        glmops.ElasticNet(alpha=0.1, solver="covariance").fit(X[:, :20], y)
    # one specialisation per input dtype, however many calls were made
    assert len(kernels.solve_dense.signatures) == 2
    assert len(kernels.solve_sparse.signatures) == 2
    assert len(kernels.solve_gram.signatures) == 1
