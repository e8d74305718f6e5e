"""Resources: the warehouse (DuckDB, one writer) and the product settings."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from xiaoshuju.settings import Settings, load_settings
from xiaoshuju.warehouse import DUCKDB_CONFIG


class SettingsResource(dg.ConfigurableResource):
    """Where the data lives (XIAOSHUJU_HOME) and every configurable threshold; see docs/configuration.md."""

    home: str

    def get(self) -> Settings:
        return load_settings(self.home).ensure_dirs()


def build_resources(settings: Settings | None = None) -> dict:
    """Resolved from XIAOSHUJU_HOME (default ./data) when the code location loads, or from ``settings``."""
    settings = settings or load_settings()
    return {
        "settings": SettingsResource(home=str(settings.home)),
        # the same DuckDB settings as xiaoshuju.warehouse.connect: whichever opens it first, a new warehouse is
        # written in one file format
        "warehouse": DuckDBResource(database=str(settings.warehouse), connection_config=dict(DUCKDB_CONFIG)),
    }
