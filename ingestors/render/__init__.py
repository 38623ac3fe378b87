"""Renderers: the simulator's canonical records written the way the source systems write them.

Client-side code, for `ioc simulate --format`: it turns the simulator's canonical records
(`ingestors.simulator`) into the bodies a Suricata sensor, a Wazuh manager, a CEF relay,
Elastic Security, a one-stop-shop system (the DVC filing sync record) or a document exchange
system (edXML) would send, so that a running IOC exercises every ingest adapter end to end.
The server side of ingest (`ingestors.formats`, `ingestors.pipeline`) never imports this
package, and this package does not import it: the round-trip tests
(`tests/unit/test_render.py`) render, then parse and map with the server's own formats, and
check that what comes back is the simulator's events.

One module per format (`suricata`, `wazuh`, `cef`, `ecs`, `dvc`, `edxml`), each a
`Renderer`: the source it is for, which records it can carry, how it writes one, and the
entity id the server derives from what it wrote. `Natives` (below) decides per entity which
format carries it, from the `--format` choice (`FormatChoice`).

**Security formats carry detections only.** A Suricata EVE line, a Wazuh alert, a CEF event
and an ECS alert each say that something fired; none says that an operator acknowledged
or resolved it. So an alert's `raised` event is rendered natively, and its later
`acknowledged` and `resolved` events are sent as canonical records carrying only the
alert id *the server derives* from the native record (as an operator acknowledging on the
wall screen would use it), so the wall screen still shows alerts opened, acknowledged and
resolved. Which format carries an alert is drawn from a hash of the simulator's alert id,
so a lifecycle event finds its alert's format and derived id without any state, and the
same seed gives the same bodies.

**Filings and documents follow their whole lifecycle natively.** A DVC record is a snapshot
of the whole filing, so `dvc` renders each filing event as the filing after it, history and
all (`ingestors/render/dvc.py`); `edxml` renders a sent document as its message header and
the later steps at its receiver as status packets (`ingestors/render/edxml.py`), sending
canonically only what edXML cannot say at the agency the simulator places it (see there).
Both keep a little state per open entity, dropped when it closes, so a run's memory stays
bounded. A paper document never travels over edXML and is sent canonically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ingestors.render import cef, dvc, ecs, edxml, suricata, wazuh
from ingestors.render.base import IDLE, Record, Rendered, Renderer, Step, fraction
from ingestors.simulator import DEMO_SPEEDUP, Pace
from ioc.config import SOURCES

__all__ = [
    "NATIVE",
    "RENDERERS",
    "FormatChoice",
    "Natives",
    "Rendered",
    "Renderer",
    "bodies",
    "body",
]

RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (
        suricata.RENDERER,
        wazuh.RENDERER,
        ecs.RENDERER,
        cef.RENDERER,
        dvc.RENDERER,
        edxml.RENDERER,
    )
}
NATIVE: dict[str, float] = {
    "suricata": 35,
    "wazuh": 30,
    "ecs": 20,
    "cef": 15,
    "dvc": 100,
    "edxml": 100,
}
"""`--format native`: every format there is a renderer for, with these shares (shares count
within a source: `dvc` and `edxml` are alone in theirs)."""


@dataclass(frozen=True, slots=True)
class FormatChoice:
    """Which native formats carry the simulated records, with their shares.

    Parsed from `--format`: `canonical` (none: everything canonical, the default),
    `native` (every renderer, `NATIVE`'s shares), or a comma-separated list of format
    names, each with an optional `=share` (`suricata=3,wazuh=1`, `dvc,edxml,suricata`;
    default 1). A source with no format listed stays canonical, and so does a record none
    of the listed formats can carry (a critical alert when only `suricata` is listed: EVE
    has no critical; a paper document under `edxml`)."""

    shares: tuple[tuple[str, float], ...] = ()

    @property
    def canonical(self) -> bool:
        return not self.shares

    @classmethod
    def parse(cls, text: str) -> FormatChoice:
        """Raises ValueError with what to write instead."""
        wanted = text.strip().lower()
        if wanted in ("", "canonical"):
            return cls()
        if wanted == "native":
            return cls(tuple(NATIVE.items()))
        shares: dict[str, float] = {}
        for part in wanted.split(","):
            name, _, share = part.strip().partition("=")
            name = name.strip()
            if name not in RENDERERS:
                known = ", ".join(RENDERERS)
                raise ValueError(
                    f"no renderer for format {name!r}; use canonical, native, or a list of "
                    f"{known} (each with an optional =share, e.g. suricata=3,wazuh=1)"
                )
            try:
                weight = float(share) if share.strip() else 1.0
            except ValueError:
                weight = -1.0
            if not weight > 0 or weight == float("inf"):
                raise ValueError(f"the share of {name} must be a positive number, got {share!r}")
            shares[name] = weight
        return cls(tuple(shares.items()))

    def describe(self) -> str:
        """Per source, the formats and their shares (`security: suricata 75%, cef 25%;
        filings: canonical; ...`)."""
        parts = []
        for source in SOURCES:
            shares = [(n, w) for n, w in self.shares if RENDERERS[n].source == source]
            total = sum(w for _, w in shares)
            used = ", ".join(f"{n} {w / total:.0%}" for n, w in shares) or "canonical"
            parts.append(f"{source}: {used}")
        return "; ".join(parts)


class Natives:
    """Renders one run of the simulator's records per a `FormatChoice`: one record in, one
    record out, in the same order. Security renderers are stateless; `dvc` and `edxml`
    keep a little per open entity (its history, its promulgation date), dropped when it
    closes, or once idle longer than any gap the simulator plans at `pace` (`IDLE`), so
    memory stays bounded whatever the length of the run. One `Natives` per run: its records
    must come in the simulator's order."""

    def __init__(self, choice: FormatChoice, pace: Pace = "realistic") -> None:
        self.choice = choice
        idle = IDLE / DEMO_SPEEDUP if pace == "demo" else IDLE
        self._by_source: dict[str, list[tuple[Renderer, float]]] = {}
        self._writers: dict[str, Step] = {}
        for name, share in choice.shares:
            renderer = RENDERERS[name]
            self._by_source.setdefault(renderer.source, []).append((renderer, share))
            self._writers[name] = renderer.writer(idle)

    def carrier(self, record: dict[str, Any]) -> Renderer | None:
        """The renderer that carries this record's entity; None when it goes canonical."""
        candidates = [
            (r, share)
            for r, share in self._by_source.get(record["source"], ())
            if r.carries(record["payload"])
        ]
        if not candidates:
            return None
        point = fraction(record["payload"][candidates[0][0].entity_key]) * sum(
            share for _, share in candidates
        )
        for renderer, share in candidates:
            point -= share
            if point < 0:
                return renderer
        return candidates[-1][0]

    def render(self, record: Record) -> Rendered:
        renderer = self.carrier(record)
        if renderer is None:
            return Rendered(record["source"], "canonical", record)
        return self._writers[renderer.name](record)

    def stream(self, records: Iterable[dict[str, Any]]) -> Iterator[Rendered]:
        for record in records:
            yield self.render(record)


def body(format: str, records: list[Any]) -> tuple[bytes, str]:
    """(body, content type) of one request carrying `records` in `format`: CEF one event
    per line, DVC records as a JSON array (as a one-stop-shop system posts them), the other
    JSON formats as NDJSON, edXML one message (a body is one XML document)."""
    if format == "cef":
        return ("\n".join(records) + "\n").encode(), "text/plain"
    if format == "edxml":
        [message] = records
        return message.encode(), "application/xml"
    if format == "dvc":
        return json.dumps(records, ensure_ascii=False).encode(), "application/json"
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    return text.encode(), "application/x-ndjson"


def bodies(format: str, records: list[Any]) -> list[tuple[bytes, str]]:
    """The requests that carry `records` in `format`: one per edXML message, else one."""
    if format == "edxml":
        return [body(format, [r]) for r in records]
    return [body(format, records)]
