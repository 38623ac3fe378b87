"""What the renderers share: the `Renderer` shape, stable numbers drawn from hashes, and the
rule behind a simulated signature."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

VN_TZ = timezone(timedelta(hours=7))

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Renderer:
    """How one source system's format writes the simulator's records.

    - `source`: the ingest source it is for;
    - `carries(payload)`: whether it can say this entity (EVE has no critical severity);
    - `native_types`: the event types it writes natively (the others go canonical);
    - `render(record)`: the record as the source system writes it (a JSON-ready dict, or
      a text line);
    - `entity_id(record)`: the entity id the server derives from what `render` wrote,
      by the rule the server documents for the format (the round-trip tests hold the
      two together); `entity_key` the payload field that carries it.
    """

    name: str
    source: str
    entity_key: str
    native_types: frozenset[str]
    carries: Callable[[Record], bool]
    render: Callable[[Record], Any]
    entity_id: Callable[[Record], str]


def digest(*parts: object) -> str:
    """SHA-256 (hex) of the parts joined by the unit separator, None as empty: the recipe
    the server documents for the ids it derives from several fields (16 hex digits)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def server_hash(*parts: object) -> str:
    return digest(*parts)[:16]


def number(text: str, modulo: int) -> int:
    """A stable whole number in [0, modulo) drawn from `text`."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16) % modulo


def fraction(text: str) -> float:
    """A stable number in [0, 1) drawn from `text`."""
    return number(text, 1 << 52) / (1 << 52)


@dataclass(frozen=True, slots=True)
class Rule:
    """The rule behind a simulated signature: `family` "et" (an Emerging Threats rule, as
    Suricata runs them) or "wazuh" (a Wazuh rule, written `Wazuh <id>: <description>`)."""

    family: str
    rule_id: str
    name: str
    rev: int


_WAZUH = re.compile(r"^Wazuh (\d+): (.+)$")


def rule_of(signature: str) -> Rule:
    """ET rules get a stable signature id in ET Open's range (2,000,000-2,999,999)."""
    match = _WAZUH.match(signature)
    if match is not None:
        return Rule("wazuh", match[1], match[2], 1)
    sid = 2_000_000 + number(signature, 1_000_000)
    return Rule("et", str(sid), signature, 1 + number(signature + "#rev", 12))


def instant(record: Record) -> datetime:
    return datetime.fromisoformat(record["occurred_at"])


def local_millis(when: datetime) -> str:
    """`2026-01-05T08:00:01.234+0700`: Vietnam time, milliseconds, the offset without colon
    (as Wazuh writes it)."""
    local = when.astimezone(VN_TZ)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+0700"


def utc_millis(when: datetime) -> str:
    """`2026-01-05T01:00:01.234Z` (as Elastic writes `@timestamp`)."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def epoch_millis(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
