"""Runnable examples of glmops (outside the package; run from the repository root)."""
