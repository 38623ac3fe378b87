"""What the renderers share: the `Renderer` shape and what it gives back (`Rendered`), the
open entities of a format that keeps state (`Open`), stable numbers drawn from hashes, the
server's recipes for the ids it derives, and the rule behind a simulated signature."""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from ioc.working_time import VN_TZ

Record = dict[str, Any]
Step = Callable[[Record], "Rendered"]
T = TypeVar("T")

IDLE = timedelta(days=7)
"""How long a stateful renderer keeps an entity no step came for, at the realistic pace: the
simulator's longest planned gap between two steps of an entity is 6 days (a resolution;
a filing's result is collected within 2 days of it, or never). `DEMO_SPEEDUP` times less
at the demo pace, where every such gap is that many times shorter."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """One record to send: to `source`, in `format` (`canonical` or a renderer's name);
    `record` a JSON-ready dict, or a text (a CEF line, an XML document); `agency` the
    request's `?agency=` when the format needs it (an edXML message posted by a receiver)."""

    source: str
    format: str
    record: Any
    agency: str | None = None


@dataclass(frozen=True, slots=True)
class Renderer:
    """How one source system's format writes the simulator's records.

    - `source`: the ingest source it is for;
    - `carries(payload)`: whether it can say this entity (EVE has no critical severity,
      edXML no paper document);
    - `native_types`: the event types it writes natively (the others go canonical);
    - `render(record)`: the record as the source system writes it (a JSON-ready dict, or
      a text);
    - `entity_id(record)`: the entity id the server derives from what `render` wrote,
      by the rule the server documents for the format (the round-trip tests hold the
      two together); `entity_key` the payload field that carries it;
    - `per_run(idle)`: for a format that follows an entity's whole lifecycle itself (the
      DVC snapshot, edXML's header and status packets), a factory of one run's step
      writer, which decides per record what to send and may keep state per open entity
      (`Open`, with `idle`); None for the detection formats, whose steps
      `detection_step` writes.
    """

    name: str
    source: str
    entity_key: str
    native_types: frozenset[str]
    carries: Callable[[Record], bool]
    render: Callable[[Record], Any]
    entity_id: Callable[[Record], str]
    per_run: Callable[[timedelta], Step] | None = None

    def writer(self, idle: timedelta = IDLE) -> Step:
        """A step writer for one run (one `Natives`)."""
        if self.per_run is not None:
            return self.per_run(idle)
        return lambda record: detection_step(self, record)


def lifecycle_renderer(
    name: str,
    source: str,
    entity_key: str,
    native_types: frozenset[str],
    carries: Callable[[Record], bool],
    writer: Callable[[timedelta], Step],
) -> Renderer:
    """The renderer of a format that follows an entity's whole lifecycle itself (the DVC
    snapshot, edXML's header and status packets): `writer(idle)` makes one run's step
    writer; a record seen alone renders as the first step a run sees of its entity; the
    entity id is the payload's `entity_key`, which the native record carries as is."""
    return Renderer(
        name=name,
        source=source,
        entity_key=entity_key,
        native_types=native_types,
        carries=carries,
        render=lambda record: writer(IDLE)(record).record,
        entity_id=lambda record: str(record["payload"][entity_key]),
        per_run=writer,
    )


def detection_step(renderer: Renderer, record: Record) -> Rendered:
    """A detection format's step: a native type as the source system writes it; a lifecycle
    step it cannot say canonically, with the entity id the server derives from the native
    record and nothing else of the payload (the native record said the rest; a later value
    would overwrite the server's)."""
    source = record["source"]
    if record["type"] in renderer.native_types:
        return Rendered(source, renderer.name, renderer.render(record))
    key = renderer.entity_key
    return Rendered(source, "canonical", {**record, "payload": {key: renderer.entity_id(record)}})


class Open(Generic[T]):
    """What a stateful renderer keeps per open entity, bounded: an entity is dropped when
    its lifecycle closes (`close`), or once no step of it came for `idle` of simulated time
    (one whose end the renderer cannot see, e.g. a result never collected) - longer than
    any gap the simulator plans between two steps of an entity, so a dropped entity has no
    step left to come."""

    def __init__(self, idle: timedelta) -> None:
        self.idle = idle
        self._entries: OrderedDict[str, tuple[datetime, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[tuple[str, datetime, T]]:
        """(key, last touched, value) of what is kept, least recently touched first."""
        return [(key, at, value) for key, (at, value) in self._entries.items()]

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None else None

    def put(self, key: str, value: T, at: datetime) -> None:
        """Keep `value` for `key`, touched at `at` (records come in time order); drop the
        entities idle since before `at - idle`."""
        self._entries[key] = (at, value)
        self._entries.move_to_end(key)
        while self._entries:
            first = next(iter(self._entries.values()))
            if first[0] >= at - self.idle:
                break
            self._entries.popitem(last=False)

    def close(self, key: str) -> None:
        self._entries.pop(key, None)


def digest(*parts: object) -> str:
    """SHA-256 (hex) of the parts joined by the unit separator, None as empty: the recipe
    the server documents for the ids it derives from several fields (16 hex digits)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def server_hash(*parts: object) -> str:
    return digest(*parts)[:16]


def content_id(prefix: str, parts: list[str]) -> str:
    """The event id the server derives from an event's content (`<prefix>-` + SHA-256 of
    the parts as a compact JSON array, 32 hex digits): what `dvc` and `edxml` give their
    events, so a record sent again is stored once."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


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


def local_seconds(when: datetime) -> str:
    """`20260105080001`: Vietnam time to the second (`yyyyMMddHHmmss`, as DVC writes dates;
    the milliseconds are dropped)."""
    return when.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ")
_MIDDLE = ("Văn", "Thị", "Hữu", "Minh", "Thanh", "Đức", "Ngọc", "Quốc", "Thu", "Xuân")
_GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan",
          "Linh", "Long", "Nam", "Phương", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Trung",
          "Vinh")  # fmt: skip


def person(key: str) -> str:
    """A Vietnamese full name drawn from `key` (an applicant, an officer, a signer)."""
    return " ".join(
        names[number(f"{key}#{i}", len(names))]
        for i, names in enumerate((_FAMILY, _MIDDLE, _GIVEN))
    )
