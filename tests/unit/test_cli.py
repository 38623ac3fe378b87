"""What the command line says: where a sender looked for `ioc up` and what to set instead,
and what each role is, needs and how it finds it (`--help`)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.cli import _log_label, _sending, main
from ioc.config import Settings
from ioc.runtime import Runtime, write_runtime


@pytest.fixture(autouse=True)
def no_ioc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IOC_INGEST_TOKEN", "IOC_API_URL", "IOC_DATA_DIR", "IOC_ENV",
                 "IOC_KAFKA_BOOTSTRAP", "IOC_DATABASE_URL", "IOC_INGEST_TOKENS_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def refusal(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as refused:
        main(argv)
    message = refused.value.code
    assert isinstance(message, str), message  # a message, so the exit code is 1
    return message


def says_where_it_looked_and_what_to_set(message: str, data_dir: Path) -> None:
    assert "no running `ioc up` found" in message
    assert str((data_dir / "runtime.json").absolute()) in message
    for name in ("--data-dir", "IOC_DATA_DIR", "IOC_API_URL", "IOC_INGEST_TOKEN"):
        assert name in message, name


@pytest.fixture
def ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_text("{}\n")
    return path


def test_replay_without_ioc_up_says_where_it_looked(tmp_path: Path, ndjson: Path) -> None:
    data_dir = tmp_path / "data"
    message = refusal(["replay", str(ndjson), "--data-dir", str(data_dir)])
    assert message.startswith("ioc replay: ")
    assert f"there is no {(data_dir / 'runtime.json').absolute()}" in message
    says_where_it_looked_and_what_to_set(message, data_dir)


def test_simulate_without_ioc_up_says_where_it_looked(tmp_path: Path) -> None:
    data_dir = tmp_path / "elsewhere"
    message = refusal(["simulate", "--count", "1", "--data-dir", str(data_dir)])
    assert message.startswith("ioc simulate: ")
    says_where_it_looked_and_what_to_set(message, data_dir)


def test_the_data_directory_comes_from_ioc_data_dir_too(
    tmp_path: Path, ndjson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "from-env"))
    message = refusal(["replay", str(ndjson)])
    says_where_it_looked_and_what_to_set(message, tmp_path / "from-env")


def test_a_runtime_file_left_by_a_dead_ioc_up_is_not_a_running_one(
    tmp_path: Path, ndjson: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    data_dir = tmp_path / "data"
    write_runtime(
        data_dir / "runtime.json",
        Runtime(api_url="http://127.0.0.1:1", kafka_bootstrap="", database_url="",
                ingest_token="old", pid=gone.pid),
    )  # fmt: skip
    message = refusal(["replay", str(ndjson), "--data-dir", str(data_dir)])
    assert f"(pid {gone.pid}) that no longer runs" in message
    says_where_it_looked_and_what_to_set(message, data_dir)


def test_api_url_without_a_token_says_the_token_is_missing(
    tmp_path: Path, ndjson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_API_URL", "http://10.0.0.5:8000")
    message = refusal(["replay", str(ndjson), "--data-dir", str(tmp_path)])
    assert "IOC_API_URL is http://10.0.0.5:8000, but set IOC_INGEST_TOKEN" in message


def namespace(command: str, data_dir: Path) -> argparse.Namespace:
    return argparse.Namespace(command=command, data_dir=data_dir)


def test_a_running_ioc_up_is_found_through_its_runtime_file(tmp_path: Path) -> None:
    write_runtime(
        tmp_path / "runtime.json",
        Runtime(api_url="http://127.0.0.1:8123", kafka_bootstrap="k:1",
                database_url="postgresql://db", ingest_token="tok", pid=os.getpid()),
    )  # fmt: skip
    settings = _sending(namespace("replay", tmp_path))
    assert (settings.api_url, settings.ingest_token) == ("http://127.0.0.1:8123", "tok")


def test_a_token_in_the_environment_needs_no_ioc_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_INGEST_TOKEN", "mine")
    monkeypatch.setenv("IOC_API_URL", "http://10.0.0.5:8000")
    settings = _sending(namespace("simulate", tmp_path))
    assert (settings.api_url, settings.ingest_token) == ("http://10.0.0.5:8000", "mine")


def test_roles_without_broker_or_database_say_where_they_looked(tmp_path: Path) -> None:
    for command in ("process", "serve", "ingest"):
        message = refusal([command, "--data-dir", str(tmp_path)])
        assert message.startswith(f"ioc {command}: IOC_KAFKA_BOOTSTRAP and IOC_DATABASE_URL")
        assert str((tmp_path / "runtime.json").absolute()) in message
        assert "--data-dir" in message and "IOC_DATA_DIR" in message
    message = refusal(["migrate", "--data-dir", str(tmp_path)])
    assert message.startswith("ioc migrate: IOC_DATABASE_URL not set")
    assert "--data-dir" in message and "IOC_DATA_DIR" in message


def test_simulate_writes_the_realistic_pace_to_a_file_unless_told(tmp_path: Path) -> None:
    from datetime import datetime

    from ingestors.simulator import generate

    start = datetime.fromisoformat("2026-01-05T08:00:00+07:00")
    for pace in ("realistic", "demo"):
        expected = [
            json.dumps(record, ensure_ascii=False, sort_keys=True)
            for record in generate(3, 200, start, pace=pace)
        ]
        out = tmp_path / f"{pace}.ndjson"
        extra = ["--pace", pace] if pace == "demo" else []
        assert main(["simulate", "--seed", "3", "--count", "200", "--out", str(out), *extra]) == 0
        assert out.read_text().splitlines() == expected


NEEDS = {
    "serve": ("IOC_KAFKA_BOOTSTRAP", "IOC_DATABASE_URL", "IOC_INGEST_TOKEN", "/ws/live"),
    "ingest": ("IOC_KAFKA_BOOTSTRAP", "IOC_DATABASE_URL", "IOC_INGEST_TOKEN", "/ingest/"),
    "process": ("IOC_KAFKA_BOOTSTRAP", "IOC_DATABASE_URL", "no ingest token", "ioc migrate"),
    "migrate": ("IOC_DATABASE_URL", "no broker, no ingest token"),
}


@pytest.mark.parametrize("command", sorted(NEEDS))
def test_help_says_what_a_role_is_needs_and_how_it_finds_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    description = text.split("options:")[0]
    assert "Needs:" in description
    for needed in NEEDS[command]:
        assert needed in description, needed
    for how in ("runtime.json", "`ioc up`", "--data-dir", "IOC_DATA_DIR"):
        assert how in description, how


def test_serve_with_an_unusable_tokens_file_says_what_to_fix_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  - {name: soc, token: a-secret-of-the-soc-1234, sources: [sec]}\n")
    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("IOC_DATABASE_URL", "postgresql://ioc@127.0.0.1:1/ioc")
    monkeypatch.setenv("IOC_INGEST_TOKEN", "an-all-sources-token-5678")
    monkeypatch.setenv("IOC_INGEST_TOKENS_FILE", str(tokens))
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ioc serve: TokenFileError: ") and "Traceback" not in err
    assert "tokens[0] (soc)" in err and "unknown source(s) sec" in err
    assert "IOC_INGEST_TOKENS_FILE" in err and "a-secret-of-the-soc-1234" not in err


def test_up_refuses_fewer_than_one_processor() -> None:
    assert refusal(["up", "--processors", "0"]) == "ioc up: --processors must be at least 1"


def test_a_named_processor_labels_its_log_lines_with_its_name() -> None:
    assert _log_label("process", Settings(processor_name="process-2")) == "process-2"
    assert _log_label("process", Settings()) == "process"
    assert _log_label("serve", Settings(processor_name="process-2")) == "serve"
