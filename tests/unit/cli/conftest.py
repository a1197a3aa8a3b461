"""CLI fixtures: the registry tests' trained artifacts."""

from tests.unit.registry.conftest import artifacts  # noqa: F401 (fixture)
