"""The ingest token `ioc up` keeps in its data directory across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ioc.config import Settings
from ioc.runtime import data_dir_token


def test_the_generated_ingest_token_is_kept_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, ingest_token="")
    first, origin = data_dir_token(settings)
    assert origin == "generated" and first.ingest_token
    token_file = tmp_path / "ingest-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    again, origin = data_dir_token(settings)
    assert (again.ingest_token, origin) == (first.ingest_token, "reused")


def test_ioc_ingest_token_wins_over_the_kept_one(tmp_path: Path) -> None:
    (tmp_path / "ingest-token").write_text("kept\n")
    chosen, origin = data_dir_token(Settings(data_dir=tmp_path, ingest_token="chosen"))
    assert (chosen.ingest_token, origin) == ("chosen", "set")
    assert (tmp_path / "ingest-token").read_text() == "kept\n"


def test_production_still_requires_ioc_ingest_token(tmp_path: Path) -> None:
    (tmp_path / "ingest-token").write_text("kept\n")
    with pytest.raises(ValueError, match="IOC_INGEST_TOKEN"):
        data_dir_token(Settings(data_dir=tmp_path, ingest_token="", env="production"))
