"""Optional extras: which modules each one brings, and a clear error when one is missing.

``pip install glmops`` gives the estimators, the data pipeline, the artifact,
the registry on SQLite, batch scoring and the CLI. The rest is opt-in::

    glmops[serve]     the HTTP service (FastAPI, uvicorn, Prometheus metrics) and
                      its client, glmops registry --server (httpx)
    glmops[postgres]  a postgresql+psycopg:// registry
    glmops[report]    the HTML model report (matplotlib figures)
    glmops[s3]        s3:// artifact stores and prediction logs
    glmops[all]       all of the above

Entry points call :func:`require` before importing what an extra brings, so
a lean install fails with the pip command to run instead of a bare
``ModuleNotFoundError`` deep inside a third-party package.
"""

from __future__ import annotations

import importlib.util

from glmops.errors import MissingExtraError

__all__ = ["EXTRAS", "has_extra", "require"]

# extra -> the top-level modules it must make importable (pyproject.toml's
# [project.optional-dependencies] lists the distributions; test_packaging checks both agree)
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "starlette", "uvicorn", "prometheus_client", "httpx"),
    "postgres": ("psycopg",),
    "report": ("matplotlib",),
    "s3": ("s3fs",),
}


def _missing(extra: str) -> list[str]:
    """Return the modules of ``extra`` that cannot be imported."""
    if extra not in EXTRAS:
        raise ValueError(f"The 'extra' parameter must be one of {sorted(EXTRAS)}. Got {extra!r}.")
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def has_extra(extra: str) -> bool:
    """Return True when every module of ``extra`` is importable (nothing is imported)."""
    return not _missing(extra)


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` unless ``extra`` is installed.

    Parameters
    ----------
    extra : str
        One of :data:`EXTRAS`' keys (``serve``, ``postgres``, ``report``, ``s3``).
    feature : str
        What needs it, as the user would name it (``glmops serve``); it starts
        the message.

    Raises
    ------
    MissingExtraError
        Naming the extra, the missing modules and the pip command.
    """
    missing = _missing(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the '{extra}' extra (missing: {', '.join(missing)}): "
            f"pip install 'glmops[{extra}]'",
            extra=extra,
            feature=feature,
        )
