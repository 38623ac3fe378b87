"""Renderers: the simulator's canonical records written the way the source systems write them.

Client-side code, for `ioc simulate --format`: it turns the simulator's canonical records
(`ingestors.simulator`) into the bodies a Suricata sensor, a Wazuh manager, a CEF relay or
Elastic Security would send, so that a running IOC exercises every ingest adapter end to
end. The server side of ingest (`ingestors.formats`, `ingestors.pipeline`) never imports
this package, and this package does not import it: the round-trip tests
(`tests/unit/test_render.py`) render, then parse and map with the server's own formats, and
check that what comes back is the simulator's event.

One module per format (`suricata`, `wazuh`, `cef`, `ecs`), each a `Renderer`: the source it
is for, which records it can carry, how it writes one, and the entity id the server
derives from what it wrote (`alert_id`). `Natives` (below) decides per entity which format
carries it, from the `--format` choice (`FormatChoice`).

**Native formats carry detections only.** A Suricata EVE line, a Wazuh alert, a CEF event
and an ECS alert each say that something fired; none says that an operator acknowledged
or resolved it. So an alert's `raised` event is rendered natively, and its later
`acknowledged` and `resolved` events are sent as canonical records carrying only the
alert id *the server derives* from the native record (as an operator acknowledging on the
wall screen would use it), so the wall screen still shows alerts opened, acknowledged and
resolved. Which format carries an alert is drawn from a hash of the simulator's alert id,
so a lifecycle event finds its alert's format and derived id without any state, and the
same seed gives the same bodies.

Filings (the DVC filing-sync record) and documents (edXML) are not rendered yet: they are
sent canonically until those ingest formats exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ingestors.render import cef, ecs, suricata, wazuh
from ingestors.render.base import Renderer, fraction
from ioc.config import SOURCES

__all__ = [
    "NATIVE",
    "RENDERERS",
    "FormatChoice",
    "Natives",
    "Rendered",
    "Renderer",
    "body",
]

RENDERERS: dict[str, Renderer] = {
    r.name: r for r in (suricata.RENDERER, wazuh.RENDERER, ecs.RENDERER, cef.RENDERER)
}
NATIVE: dict[str, float] = {"suricata": 35, "wazuh": 30, "ecs": 20, "cef": 15}
"""`--format native`: every format there is a renderer for, with these shares."""
NOT_RENDERED = {"filings": "the DVC filing-sync record", "documents": "edXML"}
"""Sources still sent canonically under `--format native`, and the format they would take."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """One record to send: to `source`, in `format` (`canonical` or a renderer's name);
    `record` a JSON-ready dict, or a text line (CEF)."""

    source: str
    format: str
    record: Any


@dataclass(frozen=True, slots=True)
class FormatChoice:
    """Which native formats carry the simulated records, with their shares.

    Parsed from `--format`: `canonical` (none: everything canonical, the default),
    `native` (every renderer, `NATIVE`'s shares), or a comma-separated list of format
    names, each with an optional `=share` (`suricata=3,wazuh=1`; default 1). A source with
    no format listed stays canonical, and so does a record none of the listed formats can
    carry (a critical alert when only `suricata` is listed: EVE has no critical)."""

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
            if source in NOT_RENDERED and not shares and not self.canonical:
                used += f" ({NOT_RENDERED[source]} not rendered yet)"
            parts.append(f"{source}: {used}")
        return "; ".join(parts)


class Natives:
    """Renders the simulator's records per a `FormatChoice`. Stateless: one record in, one
    record out, in the same order (a bounded memory whatever the length of the run)."""

    def __init__(self, choice: FormatChoice) -> None:
        self.choice = choice
        self._by_source: dict[str, list[tuple[Renderer, float]]] = {}
        for name, share in choice.shares:
            renderer = RENDERERS[name]
            self._by_source.setdefault(renderer.source, []).append((renderer, share))

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

    def render(self, record: dict[str, Any]) -> Rendered:
        source = record["source"]
        renderer = self.carrier(record)
        if renderer is None:
            return Rendered(source, "canonical", record)
        if record["type"] in renderer.native_types:
            return Rendered(source, renderer.name, renderer.render(record))
        # A lifecycle step the native format cannot say: canonical, with the entity id the
        # server derives from the native record, and nothing else of the payload (the
        # native record said the rest; a later value would overwrite the server's).
        key = renderer.entity_key
        return Rendered(
            source, "canonical", {**record, "payload": {key: renderer.entity_id(record)}}
        )

    def stream(self, records: Iterable[dict[str, Any]]) -> Iterator[Rendered]:
        for record in records:
            yield self.render(record)


def body(format: str, records: list[Any]) -> tuple[bytes, str]:
    """(body, content type) of one request carrying `records` in `format`: CEF one event
    per line, the JSON formats as NDJSON."""
    if format == "cef":
        return ("\n".join(records) + "\n").encode(), "text/plain"
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    return text.encode(), "application/x-ndjson"
