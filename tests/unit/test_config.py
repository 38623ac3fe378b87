from pathlib import Path

import pytest

from ioc.config import Settings
from ioc.runtime import Runtime, read_runtime, with_runtime, write_runtime


def test_settings_come_from_ioc_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("IOC_TOPIC_PREFIX", "h42")
    monkeypatch.setenv("IOC_PROCESSOR_BATCH_MAX", "500")
    s = Settings()
    assert s.kafka_bootstrap == "kafka:9092"
    assert s.processor_batch_max == 500
    assert s.source_topics == {"documents": "h42.documents", "filings": "h42.filings",
                               "security": "h42.security"}  # fmt: skip
    assert s.deadletter_topic == "h42.deadletter"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_PROCESSOR_BATCH_MAX", "0")
    with pytest.raises(ValueError, match="processor_batch_max"):
        Settings()


def test_development_generates_a_token_when_none_is_set() -> None:
    s, generated = Settings(ingest_token="").with_ingest_token()
    assert generated and len(s.ingest_token) >= 24
    assert Settings(ingest_token="mine").with_ingest_token() == (
        Settings(ingest_token="mine"),
        False,
    )


def test_production_refuses_to_run_without_a_token() -> None:
    with pytest.raises(ValueError, match="IOC_INGEST_TOKEN"):
        Settings(env="production", ingest_token="").with_ingest_token()


def test_runtime_file_fills_only_what_the_environment_left_empty(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, kafka_bootstrap="mine:9092")
    write_runtime(
        s.runtime_file,
        Runtime(api_url="http://127.0.0.1:8123", kafka_bootstrap="up:1", database_url="pg://up",
                ingest_token="tok", pid=1),
    )  # fmt: skip
    assert (s.runtime_file.stat().st_mode & 0o777) == 0o600
    filled = with_runtime(s)
    assert filled.kafka_bootstrap == "mine:9092"
    assert filled.database_url == "pg://up"
    assert filled.api_url == "http://127.0.0.1:8123"
    assert filled.ingest_token == "tok"


def test_a_missing_or_broken_runtime_file_changes_nothing(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert with_runtime(s) == s
    s.runtime_file.write_text("{not json")
    assert read_runtime(s.runtime_file) is None


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_file_setting_is_unset_not_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    for name in ("IOC_REFERENCE_FILE", "IOC_WORKING_TIME_FILE", "IOC_INGEST_TOKENS_FILE"):
        monkeypatch.setenv(name, blank)
    settings = Settings()
    assert settings.reference_file is None
    assert settings.working_time_file is None
    assert settings.ingest_tokens_file is None
