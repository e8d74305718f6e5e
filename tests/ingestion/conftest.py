"""Helpers: run landing + staging on a temporary XIAOSHUJU_HOME with hand-made files."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from assets.landing.register import register_inbox
from assets.staging.pipeline import run_staging
from xiaoshuju.settings import load_settings
from xiaoshuju.warehouse import apply_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HMAC = "test-secret-for-ingestion"


class Home:
    def __init__(self, root: Path):
        self.root = root
        self.key = HMAC.encode()
        self.settings = load_settings(root).ensure_dirs()
        self.conn = duckdb.connect(str(self.settings.warehouse))
        apply_schema(self.conn)

    def drop(self, name: str, data: bytes | str | Path) -> None:
        dest = self.settings.inbox / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            shutil.copyfile(data, dest)
        elif isinstance(data, str):
            dest.write_text(data, encoding="utf-8")
        else:
            dest.write_bytes(data)

    def drop_fixture(self, name: str, as_name: str | None = None) -> None:
        self.drop(as_name or name, FIXTURES / name)

    def run(self):
        register_inbox(self.conn, self.settings.inbox, self.settings.archive)
        return run_staging(self.conn, self.settings)

    def q(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.conn.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: list | None = None):
        return self.conn.execute(sql, params or []).fetchone()[0]

    def quarantine(self) -> list[tuple]:
        return self.q(
            "SELECT file_name, line_no, reason_code FROM quarantine.rows ORDER BY file_name, line_no"
        )


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", HMAC)
    h = Home(tmp_path / "home")
    yield h
    h.conn.close()
