"""Secrets never reach a message, a log line, a report or a hash input."""

from __future__ import annotations

import pytest

from glmops._redact import MASK, is_secret_key, redact, redact_text, redact_url, summarize
from glmops.config import parse_config
from glmops.errors import ConfigError

SECRET = "hunter2"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://alice:{SECRET}@db.internal:5432/registry",
        f"postgresql://alice@db/registry?password={SECRET}",
        f"postgresql://db/registry?sslmode=require&sslpassword={SECRET}",
        f"mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BUID%3Dsa%3BPWD%3D{SECRET}",
        f"s3://bucket/path?secret_access_key={SECRET}",
    ],
)
def test_redact_url_hides_every_password_form(url):
    out = redact_url(url)
    assert SECRET not in out
    assert MASK in out


def test_redact_url_keeps_what_is_not_secret():
    url = "postgresql+psycopg://alice:pw@db.internal:5432/registry?sslmode=require"
    assert redact_url(url) == (
        "postgresql+psycopg://alice:***@db.internal:5432/registry?sslmode=require"
    )
    assert redact_url("sqlite:///./glmops.db") == "sqlite:///./glmops.db"


@pytest.mark.parametrize(
    "text",
    [
        f"could not connect to postgresql://bob:{SECRET}@h/db",
        f"DRIVER={{ODBC}};UID=sa;PWD={SECRET};",
        f"password: {SECRET}",
        f'{{"api_key": "{SECRET}"}}',
        f"token={SECRET}&x=1",
    ],
)
def test_redact_text_masks_secrets_in_prose(text):
    assert SECRET not in redact_text(text)


def test_redact_masks_secret_keys_recursively():
    config = {
        "registry": {"url": f"postgresql://u:{SECRET}@h/db"},
        "serving": {"tokens": [{"name": "ci", "token_sha256": SECRET, "roles": ["predict"]}]},
        "artifact_key": SECRET,
        "alpha": 0.5,
    }
    out = redact(config)
    assert SECRET not in repr(out)
    assert out["alpha"] == 0.5
    assert out["serving"]["tokens"][0]["roles"] == ["predict"]


@pytest.mark.parametrize("name", ["password", "PGPASSWORD", "api-key", "sslpassword", "Token"])
def test_secret_key_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["alpha", "path", "url", "keys", "passes"])
def test_ordinary_key_names(name):
    assert not is_secret_key(name)


def test_summarize_shows_keys_not_values():
    text = summarize({"url": f"postgresql://u:{SECRET}@h/db", "password": SECRET})
    assert SECRET not in text
    assert "'url'" in text
    assert len(summarize("x" * 10_000)) <= 80


@pytest.mark.parametrize(
    "raw",
    [
        {"registry": f"postgresql://u:{SECRET}@db/x", "models": {}},
        {"registry": {"url": f"postgresql://u:{SECRET}@db/x", "nope": 1}, "models": {}},
        {
            "models": {
                "m": {
                    "data": {"url": f"postgresql://u:{SECRET}@db/x", "query": 5},
                    "target": "y",
                    "task": "binary",
                }
            }
        },
        {"models": {"m": [f"postgresql://u:{SECRET}@db/x"]}},
    ],
)
def test_config_errors_never_echo_a_password(raw):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert SECRET not in str(info.value)


def _model_config(url: str):
    return parse_config(
        {
            "models": {
                "m": {
                    "data": {"url": url, "query": "SELECT * FROM t"},
                    "target": "y",
                    "task": "binary",
                }
            }
        }
    ).models["m"]


def test_the_config_hash_never_covers_a_password():
    """A hash over the password would let anyone holding the artifact test guesses offline."""
    from glmops.config import config_hash

    one = _model_config(f"postgresql+psycopg://u:{SECRET}@db/x")
    two = _model_config("postgresql+psycopg://u:other-password@db/x")
    assert config_hash(one) == config_hash(two)
    assert config_hash(one) != config_hash(_model_config("postgresql+psycopg://u:p@db/other"))


def test_the_lineage_config_has_no_password():
    from glmops.training.pipeline import _redacted_config

    dumped = _redacted_config(_model_config(f"postgresql+psycopg://u:{SECRET}@db/x?sslpassword=z"))
    assert SECRET not in repr(dumped)
    assert "sslpassword=***" in dumped["data"]["url"]
