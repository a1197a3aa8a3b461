"""Model and alias names are whole-string matches, bounded in messages."""

from __future__ import annotations

import pytest

from glmops.config import parse_config
from glmops.errors import ConfigError, InvalidInputError
from glmops.registry.registry import _check_alias_name, _check_model_name


@pytest.mark.parametrize("name", ["credit\n", "credit\r\n", " credit", "credit ", "créd", "a" * 65])
def test_model_names_with_trailing_or_odd_characters_are_refused(name):
    with pytest.raises(InvalidInputError, match="Invalid model name") as info:
        _check_model_name(name)
    assert info.value.field == "name"


@pytest.mark.parametrize("alias", ["champion\n", "Champion", "12", "latest"])
def test_alias_names_are_checked_whole(alias):
    with pytest.raises(InvalidInputError, match="Invalid alias"):
        _check_alias_name(alias)


def test_a_huge_name_is_not_echoed_whole():
    with pytest.raises(InvalidInputError) as info:
        _check_model_name("x" * 100_000 + "!")
    assert len(str(info.value)) < 300


def test_config_refuses_a_model_name_with_a_newline():
    with pytest.raises(ConfigError, match="credit"):
        parse_config(
            {"models": {"credit\n": {"data": {"path": "d.csv"}, "target": "y", "task": "binary"}}}
        )
