"""A feature that needs a missing extra says which one, at each entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmops._extras import EXTRAS, has_extra, require
from glmops.errors import GlmopsError, MissingExtraError

ABSENT = ("glmops_no_such_module",)


def test_require_names_the_extra_and_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, "serve", ABSENT)
    assert not has_extra("serve")
    with pytest.raises(MissingExtraError) as caught:
        require("serve", "glmops serve")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, GlmopsError)
    assert caught.value.extra == "serve" and caught.value.feature == "glmops serve"
    assert str(caught.value) == (
        "glmops serve needs the 'serve' extra (missing: glmops_no_such_module): "
        "pip install 'glmops[serve]'"
    )
    with pytest.raises(ValueError, match="'extra'"):
        require("gpu", "nothing")


def test_every_extra_is_installed_in_the_dev_environment() -> None:
    assert all(has_extra(extra) for extra in EXTRAS)


def test_a_postgresql_registry_url_needs_the_postgres_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from glmops.registry.db import make_engine

    monkeypatch.setitem(EXTRAS, "postgres", ABSENT)
    with pytest.raises(MissingExtraError, match=r"pip install 'glmops\[postgres\]'"):
        make_engine("postgresql+psycopg://u@127.0.0.1:5432/db")


def test_an_s3_artifact_store_needs_the_s3_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from glmops.registry.artifacts import RemoteArtifactStore

    monkeypatch.setitem(EXTRAS, "s3", ABSENT)
    with pytest.raises(MissingExtraError, match=r"s3:// artifact store needs the 's3' extra"):
        RemoteArtifactStore("s3://bucket/models", cache_dir=tmp_path)


def test_the_html_report_needs_the_report_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from glmops.evaluation.report import ReportData, render_html_report

    monkeypatch.setitem(EXTRAS, "report", ABSENT)
    with pytest.raises(MissingExtraError, match=r"pip install 'glmops\[report\]'"):
        render_html_report(ReportData(title="t", task="binary"))


def test_create_app_needs_the_serve_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import glmops.serving

    monkeypatch.setitem(EXTRAS, "serve", ABSENT)
    with pytest.raises(MissingExtraError, match="the glmops HTTP service needs the 'serve' extra"):
        glmops.serving.create_app  # noqa: B018 (the attribute access is the entry point)
