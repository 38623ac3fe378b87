"""`<data-dir>/runtime.json`: how the other commands find a running `ioc up`.

`ioc simulate`, `ioc replay`, `ioc bench` and friends read it to fill in what the
environment does not set; `IOC_*` variables always win. It holds the development
ingest token too, so it is written with mode 0600.

`<data-dir>/ingest-token` (mode 0600) keeps the development ingest token that
`ioc up` generated, so that senders configured with it keep working across
restarts on the same data directory; IOC_INGEST_TOKEN, when set, wins.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ioc.config import Settings

TOKEN_FILE = "ingest-token"
TokenOrigin = Literal["set", "reused", "generated"]


@dataclass(frozen=True)
class Runtime:
    api_url: str
    kafka_bootstrap: str
    database_url: str
    ingest_token: str
    pid: int


def write_runtime(path: Path, runtime: Runtime) -> None:
    _write_private(path, json.dumps(asdict(runtime), indent=2))


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def data_dir_token(settings: Settings) -> tuple[Settings, TokenOrigin]:
    """These settings with an ingest token, and where it came from.

    IOC_INGEST_TOKEN when set ("set"); otherwise the one kept in
    `<data-dir>/ingest-token` ("reused"); otherwise a new one, kept there for next
    time ("generated"). Production without IOC_INGEST_TOKEN refuses, as before.
    """
    if settings.ingest_token:
        return settings, "set"
    if settings.env == "production":
        settings.with_ingest_token()  # raises: production must set the token
    path = settings.data_dir / TOKEN_FILE
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return settings.model_copy(update={"ingest_token": kept}), "reused"
    settings, _ = settings.with_ingest_token()
    _write_private(path, settings.ingest_token + "\n")
    return settings, "generated"


def read_runtime(path: Path) -> Runtime | None:
    try:
        data = json.loads(path.read_text())
        return Runtime(**{k: data[k] for k in Runtime.__dataclass_fields__})
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def with_runtime(settings: Settings) -> Settings:
    """Settings with empty connection fields filled from runtime.json, if `ioc up` runs."""
    runtime = read_runtime(settings.runtime_file)
    if runtime is None:
        return settings
    fill = {
        "api_url": runtime.api_url,
        "kafka_bootstrap": runtime.kafka_bootstrap,
        "database_url": runtime.database_url,
        "ingest_token": runtime.ingest_token,
    }
    return settings.model_copy(update={k: v for k, v in fill.items() if not getattr(settings, k)})


def api_url(settings: Settings) -> str:
    return settings.api_url or f"http://{settings.api_host}:{settings.api_port}"
