"""Renderers round-trip through the server's own formats: the simulator's records, written as
Suricata EVE, Wazuh alerts, CEF lines, ECS alerts, DVC filing sync records and edXML
messages, parsed and mapped by `ingestors.pipeline` (in-process, no HTTP), give back the
simulator's events with the ids the server derives:
- alerts: type, time, agency, severity, category, addresses, asset; the lifecycle events
  sent canonically name exactly the alert the server made of the detection;
- filings: each snapshot adds exactly the event it was rendered for (status, time to the
  second, agency, channel, fees, due date...), repeats the earlier ones under the same ids,
  and a snapshot sent again adds nothing;
- documents: the header and status packets give each step at its agency and time, the
  canonical `issued` is exactly the event the header later implies;
and, folded by the domains as the processor folds them, every filing and document comes
out in the state the simulator's own events give it - what the wall screen counts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestors.formats import MapContext
from ingestors.pipeline import judge, read_body
from ingestors.render import (
    NATIVE,
    RENDERERS,
    FormatChoice,
    Natives,
    Rendered,
    bodies,
    dvc,
    edxml,
)
from ingestors.render.base import IDLE, VN_TZ, Open, rule_of
from ingestors.render.edxml import header_payload
from ingestors.simulator import DEMO_SPEEDUP, PACES, Pace, generate
from ioc.clock import Calendar, WallCalendar
from ioc.domains import DOMAINS
from ioc.domains.base import StoredEvent, in_order
from ioc.events import Event, validate_event

START = datetime.fromisoformat("2026-01-05T08:00:00+07:00")
RECEIVED = datetime(2026, 1, 6, tzinfo=UTC)
CHOICES = [*RENDERERS, "native", "suricata=1,cef=3", "dvc,edxml,suricata=1"]
SECURITY = {name for name, r in RENDERERS.items() if r.source == "security"}
KEYS = {"filings": "filing_id", "documents": "document_id", "security": "alert_id"}


def server(
    source: str,
    format: str,
    records: list[Any],
    *,
    named: bool = True,
    agency: str | None = None,
    one_each: bool = True,
) -> list[Event]:
    """The events the server makes of `records` sent as `format` (one body, or one per edXML
    message); every record must be accepted without a warning, and with `one_each` make
    exactly one event."""
    events: list[Event] = []
    for data, _ in bodies(format, records):
        parsed = read_body(source, data, format if named else None, None)
        verdict = judge(source, parsed.records, MapContext(source, RECEIVED, agency), parsed.format)
        refused = [r for r in verdict.results if r["status"] == "rejected"]
        assert not refused, refused[:3]
        assert not verdict.warnings, verdict.results[:3]
        assert {r["format"] for r in verdict.results} == {format}
        if one_each:
            assert all(len(r["event_ids"]) == 1 for r in verdict.results)
        events += verdict.events
    return events


def canonical(record: dict[str, Any]) -> Event:
    event = validate_event(record["source"], record)
    assert not isinstance(event, list), [str(e) for e in event]
    return event


def at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["occurred_at"])


def to_second(text: str) -> str:
    return datetime.fromisoformat(text).replace(microsecond=0).isoformat()


def round_trip(
    seed: int, count: int, choice: str, pace: Pace = "demo", start: datetime = START
) -> dict[str, int]:
    """Render a run, send each format's records through the server's pipeline, and check
    every event against the simulator's, and every filing's and document's state. Returns
    the records per format."""
    records = list(generate(seed, count, start, pace=pace))
    natives = Natives(FormatChoice.parse(choice), pace)
    rendered = [natives.render(r) for r in records]
    assert [r.source for r in rendered] == [r["source"] for r in records]

    by_format: dict[str, list[tuple[dict[str, Any], Rendered]]] = {}
    for record, out in zip(records, rendered, strict=True):
        by_format.setdefault(out.format, []).append((record, out))

    derived = check_alerts(by_format)
    stored: dict[str, list[Event]] = {"filings": [], "documents": []}  # what the server holds
    stored["filings"] += check_filings(by_format.get("dvc", []))
    natives_documents = [
        (r, out) for r, out in zip(records, rendered, strict=True)
        if r["source"] == "documents" and natives.carrier(r) is not None
    ]  # fmt: skip
    stored["documents"] += check_documents(natives_documents)

    for record, out in by_format.get("canonical", []):
        source = record["source"]
        if source != "security":
            if natives.carrier(record) is None:  # no listed format carries it: unchanged
                assert out.record == record
                stored[source].append(canonical(record))
            continue
        [event] = server(source, "canonical", [out.record])
        assert event.event_id == record["event_id"]
        assert event.type == record["type"]
        sim_alert = record["payload"]["alert_id"]
        if sim_alert in derived:  # a lifecycle step of a natively rendered alert
            assert record["type"] != "raised"
            assert out.record["payload"] == {"alert_id": derived[sim_alert]}
            assert at(out.record) == at(record)
        else:  # no listed format can carry it: canonical, with the simulator's own id
            assert natives.carrier(record) is None
            assert out.record == record

    chosen = {name for name, _ in natives.choice.shares}
    for source, format in (("filings", "dvc"), ("documents", "edxml")):
        sent = [r for r in records if r["source"] == source]
        check_states(source, sent, stored[source], native=format in chosen)
    return {f: len(p) for f, p in by_format.items()}


# -- security ------------------------------------------------------------------------------


def check_alerts(by_format: dict[str, list[tuple[dict[str, Any], Rendered]]]) -> dict[str, str]:
    """Check the detections; returns the simulator's alert id -> the server's."""
    derived: dict[str, str] = {}
    for format in SECURITY & set(by_format):
        pairs = by_format[format]
        renderer = RENDERERS[format]
        events = server("security", format, [out.record for _, out in pairs])
        again = server("security", format, [out.record for _, out in pairs], named=False)
        assert [e.event_id for e in again] == [e.event_id for e in events], "detected alike"
        for (sim, out), event in zip(pairs, events, strict=True):
            check_raised(sim, out.record, event, format)
            assert event.payload.alert_id == renderer.entity_id(sim)  # type: ignore[union-attr]
            derived[sim["payload"]["alert_id"]] = event.payload.alert_id  # type: ignore[union-attr]
    # Distinct simulated alerts stay distinct alerts on the server.
    assert len(set(derived.values())) == len(derived)
    return derived


def check_raised(sim: dict[str, Any], native: Any, event: Any, format: str) -> None:
    p = sim["payload"]
    assert sim["type"] == "raised"
    assert event.type == "raised"
    assert event.occurred_at == at(sim)
    assert event.agency == sim["agency"]
    got = event.payload
    assert (got.severity, got.category) == (p["severity"], p["category"]), (native, p)
    assert (str(got.src_ip), str(got.dest_ip)) == (p["src_ip"], p["dest_ip"])
    # EVE names no hosts: its asset is the internal end of the connection.
    assert got.asset == (p["dest_ip"] if format == "suricata" else p["asset"])
    assert rule_of(p["signature"]).name in got.signature
    # Event ids by the server's rule for the format.
    if format == "wazuh":
        assert event.event_id == f"wazuh-{native['manager']['name']}-{native['id']}"
    elif format == "ecs":
        assert event.event_id == f"ecs-{native['event']['id']}"
    else:
        assert event.event_id.startswith(f"{format}-")


# -- filings -------------------------------------------------------------------------------


def dvc_view(record: dict[str, Any]) -> Event:
    """The simulator's filing event as a DVC record can say it: times to the second (the
    format's `yyyyMMddHHmmss`), and no commune (the record has no field for it)."""
    payload = {k: v for k, v in record["payload"].items() if k != "commune_code"}
    payload["received_at"] = to_second(payload["received_at"])
    return canonical({**record, "occurred_at": to_second(record["occurred_at"]),
                      "payload": payload})  # fmt: skip


def check_filings(pairs: list[tuple[dict[str, Any], Rendered]]) -> list[Event]:
    """Each snapshot repeats the filing's earlier events under the same ids and adds exactly
    the event it was rendered for; sent again, it adds nothing. Returns the events stored."""
    seen: dict[str, dict[str, Event]] = defaultdict(dict)  # filing -> event id -> event
    for sim, out in pairs:
        assert out.format == "dvc" and out.agency is None
        filing = sim["payload"]["filing_id"]
        assert out.record["MaHoSo"] == filing == RENDERERS["dvc"].entity_id(sim)
        events = server("filings", "dvc", [out.record], one_each=False)
        by_id = {e.event_id: e for e in events}
        assert len(by_id) == len(events)
        earlier = seen[filing]
        assert set(earlier) <= set(by_id), "a later snapshot repeats the earlier events"
        for event_id, event in earlier.items():
            assert (event.type, event.occurred_at) == (by_id[event_id].type,
                                                        by_id[event_id].occurred_at)  # fmt: skip
        [new] = [e for e in events if e.event_id not in earlier]
        expected = dvc_view(sim)
        assert new.event_id.startswith("dvc-")
        assert (new.type, new.occurred_at, new.agency) == (
            expected.type,
            expected.occurred_at,
            expected.agency,
        ), (sim, out.record)
        assert new.payload == expected.payload, (sim, out.record)
        # The same snapshot again, or detected without ?format=: nothing new.
        again = server("filings", "dvc", [out.record], named=False, one_each=False)
        assert {e.event_id for e in again} == set(by_id)
        earlier[new.event_id] = new
    return [e for events in seen.values() for e in events.values()]


# -- documents -----------------------------------------------------------------------------


def check_documents(pairs: list[tuple[dict[str, Any], Rendered]]) -> list[Event]:
    """Documents edXML carries, step by step. Returns the events the server stores."""
    stored: dict[str, Event] = {}
    issued: dict[str, Event] = {}
    for sim, out in pairs:
        p, kind, agency = sim["payload"], sim["type"], sim["agency"]
        assert p["electronic"] is True
        document = p["document_id"]
        assert RENDERERS["edxml"].entity_id(sim) == document
        if out.format == "canonical":
            event = canonical(out.record)
            if kind == "issued":  # the promulgation the header will state
                local = at(sim).astimezone(VN_TZ)
                midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
                assert event.event_id.startswith("edxml-") and event.occurred_at == midnight
                assert (event.type, event.agency) == ("issued", agency)
                assert out.record["payload"] == header_payload(p)
                issued[document] = event
            else:  # at the sender after sending: the axis refused it, or a central receipt
                assert kind in ("refused", "received") and agency == p["sender_agency"]
                central = p["receiver_agency"].split(".")[-1].startswith("G")
                assert kind == "refused" or central
                want = {"document_id": document}
                if kind == "received":
                    want["direction"] = p["direction"]
                assert out.record == {**sim, "payload": want}
            stored.setdefault(event.event_id, event)
            continue
        assert out.format == "edxml"
        events = server("documents", "edxml", [out.record], agency=out.agency, one_each=False)
        again = server("documents", "edxml", [out.record], named=False, agency=out.agency,
                       one_each=False)  # fmt: skip
        assert [e.event_id for e in again] == [e.event_id for e in events]
        event = events[-1]
        assert (event.type, event.occurred_at, event.agency) == (kind, at(sim), agency), sim
        assert event.payload.document_id == document  # type: ignore[union-attr]
        got = event.payload.model_dump(exclude_none=True)
        if kind == "sent":  # the header, posted by the sender: issued and sent
            assert out.agency is None and p["direction"] == "outgoing"
            first, _ = events
            assert first.type == "issued"
            if document in issued:  # the canonical `issued` was this very event
                assert first == issued[document]
            assert got == canonical({**sim, "payload": header_payload(p)}).payload.model_dump(
                exclude_none=True
            )
            stored.setdefault(first.event_id, first)
        elif kind == "received" and p["direction"] == "incoming":  # header, by the receiver
            assert out.agency == agency == p["receiver_agency"]
            want = {**p, "direction": "incoming"}
            if not p["signed"]:
                del want["signed"]  # no Signature: the header says nothing of it
            assert got == canonical({**sim, "payload": want}).payload.model_dump(exclude_none=True)
        else:  # a status packet from the receiver
            assert len(events) == 1 and out.agency is None and agency == p["receiver_agency"]
            want = {"document_id": document}
            if kind == "received":
                want |= {"direction": "incoming", "electronic": True, "receiver_agency": agency,
                         "sender_agency": p["sender_agency"]}  # fmt: skip
            assert got == want
        stored.setdefault(event.event_id, event)
    return list(stored.values())


# -- states --------------------------------------------------------------------------------


def fold_all(source: str, events: list[Event], calendar: Calendar | None = None) -> dict[str, Any]:
    """Each entity's state from its events, as the processor folds them: in `calendar`,
    the processor's (None: the wall calendar, where comparing two renderings will do)."""
    domain = DOMAINS[source]
    by_entity: dict[str, dict[str, StoredEvent]] = defaultdict(dict)
    for e in events:
        payload = json.loads(e.payload.model_dump_json())
        by_entity[e.entity_id][e.event_id] = StoredEvent(
            e.event_id, e.type, e.occurred_at, e.agency, payload
        )
    return {
        entity: domain.fold(entity, in_order(stored.values()), calendar or WallCalendar())
        for entity, stored in by_entity.items()
    }


def comparable(source: str, state: Any) -> dict[str, Any]:
    """What the wall screen reads of a state, as a native format can say it."""
    out = {
        k: v for k, v in vars_of(state).items()
        if k not in ("last_event_id", "commune_code", "direction", "issued_at", "signed",
                     "first_event_at", "last_event_at", "flags")
    }  # fmt: skip
    out["flags"] = [flag.split(":")[0] for flag in state.flags]
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.replace(microsecond=0)
        elif isinstance(value, float):
            out[key] = round(value)
    if source == "documents":
        out["signed"] = bool(state.signed)  # no Signature: unsaid rather than false
        out["first_day"] = state.first_event_at.astimezone(VN_TZ).date()
    return out


def vars_of(state: Any) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


def check_states(
    source: str, records: list[dict[str, Any]], stored: list[Event], native: bool = True
) -> None:
    """Every entity is in the state the simulator's own events give it (as the source's
    native format can say them, when it was `native`)."""
    as_dvc = source == "filings" and native
    simulated = [dvc_view(r) if as_dvc else canonical(r) for r in records]
    expected = fold_all(source, simulated)
    got = fold_all(source, stored)
    assert set(got) == set(expected)
    for entity, state in expected.items():
        assert comparable(source, got[entity]) == comparable(source, state), entity
        if source == "documents":
            # Issued at the start of the same day (edXML dates a promulgation); a receiver's
            # receipt says `incoming` (see ingestors.render.edxml), so an outgoing document
            # keeps `outgoing` until it is received.
            issued = state.issued_at
            if issued is not None and native and state.electronic:  # paper: canonical
                local = issued.astimezone(VN_TZ)
                issued = local.replace(hour=0, minute=0, second=0, microsecond=0)
            assert got[entity].issued_at == issued
            if state.received_at is None or state.direction == "incoming":
                assert got[entity].direction == state.direction
        else:  # DVC carries no commune
            assert got[entity].commune_code == (None if as_dvc else state.commune_code)


# -- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("pace", PACES)
@pytest.mark.parametrize("choice", CHOICES)
def test_every_format_round_trips_for_many_seeds(choice: str, pace: Pace) -> None:
    used: Counter[str] = Counter()
    for seed in range(6):
        used.update(round_trip(seed, 600, choice, pace))
    expected = set(NATIVE) if choice == "native" else {n.split("=")[0] for n in choice.split(",")}
    assert expected <= set(used), used
    assert {"canonical"} | expected == set(used)
    assert all(used[f] >= 50 for f in expected), used


@given(
    seed=st.integers(0, 2**63),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    pace=st.sampled_from(PACES),
    choice=st.sampled_from(CHOICES),
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_seed_and_start_round_trips(
    seed: int, start: datetime, pace: Pace, choice: str
) -> None:
    round_trip(seed, 200, choice, pace, start)


def test_whole_demo_lifecycles_end_in_the_same_states_natively() -> None:
    # Half an hour of demo at `ioc up`'s 10 records/s: every filing and document lifecycle
    # plays out, and the states the wall screen counts are those of the canonical run.
    records = list(generate(11, 18_000, START, 100, pace="demo"))
    natives = Natives(FormatChoice.parse("native"), "demo")
    rendered = [natives.render(r) for r in records]
    pairs = list(zip(records, rendered, strict=True))
    filings = check_filings([(r, o) for r, o in pairs if o.format == "dvc"])
    carried = [(r, o) for r, o in pairs if r["source"] == "documents" and natives.carrier(r)]
    documents = check_documents(carried)
    paper = [(r, o) for r, o in pairs if r["source"] == "documents" and not natives.carrier(r)]
    assert paper and all(not r["payload"]["electronic"] and o.record == r for r, o in paper)
    documents += [canonical(r) for r, _ in paper]
    check_states("filings", [r for r in records if r["source"] == "filings"], filings)
    check_states("documents", [r for r in records if r["source"] == "documents"], documents)
    # Every state the wall screen counts is there.
    states = fold_all("filings", filings)
    verdicts = Counter(s.verdict for s in states.values())
    assert verdicts["on_time"] + verdicts["early"] and verdicts["late"], verdicts
    assert Counter(s.status for s in states.values())["result_returned"] >= 50
    doc_states = Counter(s.status for s in fold_all("documents", documents).values())
    assert doc_states["done"] >= 50 and doc_states["returned"] and doc_states["refused"]


def test_a_resent_or_reordered_run_of_snapshots_adds_no_event() -> None:
    records = [r for r in generate(4, 6000, START, pace="demo") if r["source"] == "filings"]
    natives = Natives(FormatChoice.parse("dvc"), "demo")
    snapshots = [natives.render(r).record for r in records]
    once = {e.event_id for e in server("filings", "dvc", snapshots, one_each=False)}
    assert len(once) == len(records)  # one event per simulated event, whatever the repeats
    shuffled = snapshots[::-1] + snapshots[::2]
    assert {e.event_id for e in server("filings", "dvc", shuffled, one_each=False)} == once


def test_a_snapshot_is_the_filing_after_its_step() -> None:
    records = list(generate(2, 4000, START, pace="demo"))
    natives = Natives(FormatChoice.parse("dvc"))
    steps: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record["source"] != "filings":
            continue
        snapshot = natives.render(record).record
        steps[record["payload"]["filing_id"]].append(record["type"])
        history = snapshot["tienTrinhDongBo"]
        assert len(history) == len(steps[record["payload"]["filing_id"]])
        assert snapshot["TrangThaiHoSo"] == history[-1]["TrangThai"]
        assert history[-1]["ThoiDiemXuLy"] == at(record).astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")
        kind = record["type"]
        if kind == "refused":  # 3 not accepted at the counter, 8 processing stopped later
            before = steps[record["payload"]["filing_id"]][-2]
            assert snapshot["TrangThaiHoSo"] == ("3" if before == "received" else "8")
            assert snapshot["NgayTuChoi"] == history[-1]["ThoiDiemXuLy"]
        else:
            assert snapshot["TrangThaiHoSo"] == dvc.STATUS[kind]
        if kind == "result_returned":
            assert snapshot["NgayTra"] == history[-1]["ThoiDiemXuLy"]
            assert snapshot["NgayKetThucXuLy"] == history[-2]["ThoiDiemXuLy"]
        fee = record["payload"]["fee_vnd"]
        assert sum(f["Gia"] for f in snapshot["DanhSachLePhi"]) == fee
        assert (
            snapshot["KenhThucHien"]
            == {"in_person": "1", "online": "2", "postal": "3"}[record["payload"]["channel"]]
        )


def test_stateful_renderers_forget_closed_and_idle_entities() -> None:
    # Four hours of demo at 10 records/s: what the renderers keep is what is open or was
    # touched within the idle time (2.8 h at the demo pace), never a closed entity.
    natives = Natives(FormatChoice.parse("native"), "demo")
    snapshots, messages = natives._writers["dvc"], natives._writers["edxml"]
    assert isinstance(snapshots, dvc.Snapshots) and isinstance(messages, edxml.Messages)
    closed: set[str] = set()
    last = START
    for record in generate(9, 144_000, START, 100, pace="demo"):
        natives.render(record)
        last = at(record)
        if record["type"] in ("result_returned", "refused", "withdrawn", "done", "returned"):
            closed.add(record["payload"][KEYS[record["source"]]])
    kept = [*snapshots.open.entries(), *messages.open.entries()]
    assert kept and not {key for key, _, _ in kept} & closed
    assert all(last - touched <= IDLE / DEMO_SPEEDUP for _, touched, _ in kept)
    assert len(kept) < 3_000, len(kept)


def test_open_drops_what_closed_or_stayed_idle() -> None:
    kept: Open[int] = Open(timedelta(hours=1))
    t0 = START
    kept.put("a", 1, t0)
    kept.put("b", 2, t0 + timedelta(minutes=30))
    kept.put("a", 3, t0 + timedelta(minutes=50))
    kept.put("c", 4, t0 + timedelta(minutes=95))  # b idle since 30: dropped
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (3, None, 4)
    kept.close("a")
    assert len(kept) == 1 and kept.get("a") is None
    assert IDLE / DEMO_SPEEDUP == timedelta(hours=2.8)


def test_rendering_is_deterministic_and_ids_differ_between_seeds() -> None:
    def run(seed: int) -> list[Rendered]:
        natives = Natives(FormatChoice.parse("native"), "demo")
        return [natives.render(r) for r in generate(seed, 800, START, pace="demo")]

    assert run(5) == run(5)
    ids: dict[int, set[str]] = {}
    for seed in (5, 6):
        ids[seed] = set()
        for out in run(seed):
            if out.format != "canonical":
                events = server(out.source, out.format, [out.record], agency=out.agency,
                                one_each=False)  # fmt: skip
                ids[seed] |= {e.event_id for e in events}
    assert ids[5] and ids[6] and not ids[5] & ids[6]


def test_edxml_escapes_text_and_writes_utf8() -> None:
    records = generate(1, 400, START, pace="demo")
    record = next(r for r in records if r["type"] == "sent" and r["payload"]["electronic"])
    record["payload"]["document_type"] = 'Tờ trình <b>&"mới"</b>\x01'
    rendered = Natives(FormatChoice.parse("edxml")).render(record)
    assert "&lt;b&gt;&amp;" in rendered.record and "\x01" not in rendered.record
    [data] = bodies("edxml", [rendered.record])
    assert "Tờ trình".encode() in data[0]
    _, sent = server("documents", "edxml", [rendered.record], one_each=False)
    assert sent.payload.document_type == 'Tờ trình <b>&"mới"</b>'  # type: ignore[union-attr]


def test_native_shares_follow_the_choice() -> None:
    records = [r for r in generate(2, 20_000, START) if r["type"] == "raised"]
    natives = Natives(FormatChoice.parse("wazuh=3,ecs=1"))
    used = Counter(natives.render(r).format for r in records)
    assert set(used) == {"wazuh", "ecs"}
    assert 2.5 < used["wazuh"] / used["ecs"] < 3.5


def test_suricata_alone_leaves_what_eve_cannot_say_canonical() -> None:
    records = list(generate(3, 20_000, START))
    natives = Natives(FormatChoice.parse("suricata"))
    raised = [r for r in records if r["type"] == "raised"]
    critical = [r for r in raised if r["payload"]["severity"] == "critical"]
    wazuh_rules = [r for r in raised if r["payload"]["signature"].startswith("Wazuh ")]
    assert critical and wazuh_rules
    assert {natives.render(r).format for r in critical + wazuh_rules} == {"canonical"}


@pytest.mark.parametrize(
    ("text", "shares"),
    [
        ("canonical", ()),
        ("", ()),
        ("native", tuple(NATIVE.items())),
        ("Suricata", (("suricata", 1.0),)),
        ("suricata=3, cef=0.5", (("suricata", 3.0), ("cef", 0.5))),
        ("dvc,edxml,suricata=1", (("dvc", 1.0), ("edxml", 1.0), ("suricata", 1.0))),
    ],
)
def test_format_choice_parses(text: str, shares: tuple[tuple[str, float], ...]) -> None:
    assert FormatChoice.parse(text).shares == shares


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("syslog", "no renderer for format 'syslog'"),
        ("suricata=0", "must be a positive number"),
        ("wazuh=x", "must be a positive number"),
        ("ecs=inf", "must be a positive number"),
        ("ecs=nan", "must be a positive number"),
    ],
)
def test_format_choice_refuses_with_what_to_write(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        FormatChoice.parse(text)


def test_cef_escapes_what_its_syntax_reserves() -> None:
    record = next(r for r in generate(1, 200, START) if r["type"] == "raised")
    record["payload"]["signature"] = "ET POLICY a|b\\c = d"
    record["payload"]["asset"] = "host=1"
    line = RENDERERS["cef"].render(record)
    [event] = server("security", "cef", [line])
    assert event.payload.signature.endswith(": ET POLICY a|b\\c = d")  # type: ignore[union-attr]
    assert event.payload.asset == "host=1"  # type: ignore[union-attr]
    assert event.payload.alert_id == RENDERERS["cef"].entity_id(record)  # type: ignore[union-attr]


def test_the_choice_says_per_source_what_is_sent() -> None:
    said = FormatChoice.parse("suricata=3,cef=1").describe()
    assert said == "documents: canonical; filings: canonical; security: suricata 75%, cef 25%"
    said = FormatChoice.parse("native").describe()
    assert said.startswith("documents: edxml 100%; filings: dvc 100%; security: suricata 35%")


def test_the_client_side_never_imports_the_server_side() -> None:
    code = (
        "import sys, ingestors.render, ingestors.sender\n"
        "bad = [m for m in sys.modules if m.startswith(('ingestors.formats', "
        "'ingestors.pipeline', 'ingestors.http', 'streams'))]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_ioc_simulate_refuses_an_unknown_format_and_native_with_out(tmp_path: Path) -> None:
    from ioc.cli import main

    with pytest.raises(SystemExit, match="--format: no renderer for format 'syslog'"):
        main(["simulate", "--format", "syslog", "--count", "1", "--data-dir", str(tmp_path)])
    out = tmp_path / "out.ndjson"
    with pytest.raises(SystemExit, match="--format applies when sending"):
        main(["simulate", "--format", "native", "--out", str(out)])
    assert not out.exists()
    with pytest.raises(SystemExit, match="--simulate-format: no renderer for format 'edxm'"):
        main(["up", "--simulate-format", "edxm", "--data-dir", str(tmp_path)])
