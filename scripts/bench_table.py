"""Format `ioc bench --json` runs as the README's Performance tables (Markdown).

    .venv/bin/python -m ioc bench --events 50000 --json > run1.json
    .venv/bin/python -m ioc bench --events 50000 --json > run2.json
    .venv/bin/python scripts/bench_table.py run1.json run2.json

Prints the machine line, the throughput table, the processor-only breakdown and ingest per
transport, one row per run, from the figures as the bench printed them; nothing is typed
by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _pct(shares: dict[str, float]) -> list[str]:
    return [f"{100 * v:.0f} %" for v in shares.values()]


def table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    m = runs[0][1]["machine"]
    lines = [
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['system']}, "
        f"Python {m['python']}; `ioc bench --events {runs[0][1]['events']} --processors N`.",
        "",
        "| run | processors | processor only ev/s | from process start | ceiling ev/s "
        "| processor ratio | validated ceiling ev/s (ratio) | processor / validated "
        "| pipeline ev/s | pipeline ratio | ingest ev/s "
        "| latency p50 / p99 at steady rate | under saturation p50 / p99 | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs:
        rss = " + ".join(f"{v:,.0f}" for v in r["rss_mb_by_process"].values())
        lines.append(
            f"| {name} | {r.get('processors', 1)} | {_n(r['processor_eps'])} "
            f"| {_n(r['processor_eps_from_start'])} "
            f"({r['processor_startup_s']:.1f} s to the first) | {_n(r['ceiling_eps'])} "
            f"| {r['processor_ratio']:.3f} "
            f"| {_n(r['validated_ceiling_eps'])} ({r['validated_ceiling_ratio']:.3f}) "
            f"| {r['processor_to_validated_ratio']:.2f} "
            f"| {_n(r['throughput_eps'])} | {r['ratio']:.3f} "
            f"| {_n(r['ingest_eps'])} "
            f"| {r['latency_p50_ms']:,.1f} / {r['latency_p99_ms']:,.1f} ms "
            f"at {r['steady_rate_eps']:,} ev/s "
            f"| {r['saturated_latency_p50_ms']:,.0f} / {r['saturated_latency_p99_ms']:,.0f} ms "
            f"| {r['rss_mb']:,.0f} MB ({rss}) |"
        )
    phases = list(runs[0][1]["processor_phase_share"])
    steps = list(runs[0][1]["processor_write_step_share"])
    lines += [
        "",
        "Processor only, shares of wall time from the first stored event to the last "
        "(averaged over the processors; CPU in cores, summed):",
        "",
        "| run | " + " | ".join(phases) + " | write: " + " | ".join(steps) + " | CPU |",
        "|---" * (2 + len(phases) + len(steps)) + "|",
    ]
    for name, r in runs:
        cells = _pct(r["processor_phase_share"]) + _pct(r["processor_write_step_share"])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['processor_cpu_share']:.2f} |")
    lines += transports(runs)
    return "\n".join(lines)


def transports(runs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Ingest alone per transport, against the bare producer of the same run; what became
    of the UDP datagrams beside (runs from before syslog have no such figures)."""
    names = list(runs[0][1].get("ingest_transport_eps", {}))
    if not names:
        return []
    lines = [
        "",
        "Ingest alone, per transport: records/s acknowledged by the broker (ratio to a bare "
        "aiokafka producer of the same run); syslog UDP sent as fast as one socket sends:",
        "",
        "| run | bare producer | " + " | ".join(names) + " | UDP sent / lost before read / "
        "dropped (buffer full) / delivered |",
        "|---" * (3 + len(names)) + "|",
    ]
    for name, r in runs:
        eps, ratio = r.get("ingest_transport_eps", {}), r.get("ingest_transport_ratio", {})
        cells = [f"{_n(eps[t])} ({ratio[t]:.2f})" if t in eps else "—" for t in names]
        udp = r.get("syslog_udp")
        fate = (
            f"{_n(udp['sent'])} / {_n(udp['lost_in_kernel'])} / "
            f"{_n(udp['dropped_buffer_full'])} / {_n(udp['delivered'])}" if udp else "—"
        )  # fmt: skip
        lines.append(
            f"| {name} | {_n(r['bare_producer_eps'])} | " + " | ".join(cells) + f" | {fate} |"
        )
    return lines


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [(Path(p).stem, json.loads(Path(p).read_text())) for p in paths]
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
