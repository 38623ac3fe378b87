"""The `ioc` command line. Each subcommand is one process role; `ioc up` runs them all.

Configuration comes from `IOC_*` environment variables (see `ioc.config`); commands
that talk to a running system also read `<data-dir>/runtime.json` written by `ioc up`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from ioc.config import SOURCES, Settings, load_settings
from ioc.logs import setup_logging
from ioc.runtime import api_url, read_runtime, with_runtime

EPILOG = "Settings: IOC_* environment variables (see README). `ioc <command> --help` for more."

FINDING = (
    "How it finds them: IOC_* variables win; what they leave unset comes from\n"
    "<data-dir>/runtime.json, written by a running `ioc up` (--data-dir DIR, or\n"
    "IOC_DATA_DIR; default .ioc in the current directory)."
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="data directory holding runtime.json (default: .ioc, or IOC_DATA_DIR)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ioc",
        description="IOC: real-time monitoring of document flow, public-service filings and "
        "security alerts for a provincial Intelligent Operations Center.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything on this machine (embedded broker and database by default)",
        description="Start the broker and database (embedded unless IOC_KAFKA_BOOTSTRAP / "
        "IOC_DATABASE_URL are set), create topics, migrate, then run the API with the wall "
        "screen, the processors (one per CPU core unless told), the syslog listener and a "
        "simulator. Ctrl-C or SIGTERM stops everything it started.",
    )
    up.add_argument("--host", default=None, help="API address (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="API port (default 8000)")
    up.add_argument(
        "--processors", type=int, default=None, metavar="N",
        help="`ioc process` instances, in one consumer group (default IOC_PROCESSORS, else "
        "one per CPU core, at most the source topics' partitions)",
    )  # fmt: skip
    _common(up)
    up.add_argument(
        "--no-syslog", action="store_true",
        help="do not run the syslog listener (`ioc syslog` on IOC_SYSLOG_UDP_PORT and "
        "IOC_SYSLOG_TCP_PORT, default 5514 on 127.0.0.1)",
    )  # fmt: skip
    up.add_argument("--no-simulate", action="store_true", help="do not run the simulator")
    up.add_argument("--rate", type=float, default=10.0, help="simulated events per second")
    up.add_argument(
        "--simulate-format",
        default="native",
        metavar="F",
        help="what the simulator sends, as `ioc simulate --format` takes it (default native: "
        "every source in its source system's format, so every ingest adapter is exercised; "
        "canonical for canonical records only)",
    )

    serve = sub.add_parser(
        "serve",
        help="run the API: REST, /ws/live, wall screen, ingest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Run the API in this process: the REST API (/api/*), the live feed (/ws/live), the
wall screen (/), /metrics, /docs, and the HTTP ingest receiver (POST /ingest/{{source}}).

Needs:
  the Kafka broker     IOC_KAFKA_BOOTSTRAP - ingest publishes to it, the live feed reads it
  the database         IOC_DATABASE_URL - PostgreSQL with every migration applied
                       (`ioc migrate`)
  an ingest token      IOC_INGEST_TOKEN - senders' bearer token; in development one is
                       generated for this run and printed, production must set it

{FINDING}

Listens on --host/--port (IOC_API_HOST/IOC_API_PORT, default 127.0.0.1:8000).""",
    )
    serve.add_argument("--host", default=None, help="address (default IOC_API_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default IOC_API_PORT)")
    _common(serve)

    ingest = sub.add_parser(
        "ingest",
        help="run only the HTTP ingest receiver (POST /ingest/{source})",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Run only the HTTP ingest receiver - POST /ingest/{{source}}, with /healthz, /readyz and
/metrics - to scale ingestion apart from the API. It validates each record and answers
once the broker holds it; the processor stores it later.

Needs:
  the Kafka broker     IOC_KAFKA_BOOTSTRAP - every accepted record is published to it
  the database         IOC_DATABASE_URL - /readyz checks it and its migrations
  an ingest token      IOC_INGEST_TOKEN - senders' bearer token; in development one is
                       generated for this run and printed, production must set it

{FINDING}

Listens on --host/--port (IOC_API_HOST/IOC_API_PORT, default 127.0.0.1:8000).""",
    )
    ingest.add_argument("--host", default=None, help="address (default IOC_API_HOST)")
    ingest.add_argument("--port", type=int, default=None, help="port (default IOC_API_PORT)")
    _common(ingest)

    process = sub.add_parser(
        "process",
        help="run the stream processor (Kafka → database, KPIs, live feed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Run the stream processor: consume the source topics, store each micro-batch of events
with the entities' state, rollups and KPIs in one database transaction, announce it on
the live feed, and turn filings and documents overdue or at risk as time passes. Run
more with the same IOC_PROCESSOR_GROUP to scale out (`ioc up` runs one per CPU core);
IOC_PROCESSOR_NAME names one in its log lines and in /api/health.

Needs:
  the Kafka broker     IOC_KAFKA_BOOTSTRAP - it reads <prefix>.documents, .filings,
                       .security and writes <prefix>.live and .deadletter
  the database         IOC_DATABASE_URL - it refuses to start while migrations are
                       pending: run `ioc migrate` first
  no ingest token

{FINDING}""",
    )
    _common(process)

    migrate = sub.add_parser(
        "migrate",
        help="apply pending database migrations",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Create the database if it does not exist, then apply the pending schema migrations and
say which (or that the schema is up to date). Safe to run again; `ioc process` refuses
to start until it has been run.

Needs:
  the database         IOC_DATABASE_URL - as a role that may create the database when
                       it is missing (it connects to the server's `postgres` database)
  no broker, no ingest token

{FINDING}""",
    )
    _common(migrate)

    simulate = sub.add_parser(
        "simulate",
        help="generate realistic events for all three sources",
        description="Deterministic for a given --seed (and --pace). With --out, write NDJSON "
        "ingest records to FILE; otherwise send them to the running API (found through "
        "runtime.json). The demo pace compresses lifecycles and deadlines into minutes so a "
        "short run shows filings resolved, late and at risk, documents done and overdue, "
        "alerts acknowledged and resolved; the realistic pace takes minutes to days, as a "
        "province does.",
    )
    simulate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    simulate.add_argument(
        "--count",
        type=int,
        default=None,
        help="number of records (default: 1000 with --out, unbounded otherwise)",
    )
    simulate.add_argument(
        "--rate", type=float, default=None, help="records per second when sending"
    )
    simulate.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write NDJSON here instead of sending",
    )
    simulate.add_argument(
        "--pace",
        choices=("demo", "realistic"),
        default=None,
        help="how fast lifecycles play out (default: demo when sending, as `ioc up` does; "
        "realistic with --out)",
    )
    simulate.add_argument(
        "--start",
        default=None,
        help="simulated start time, ISO 8601 with offset (default 2026-01-05T08:00+07:00 "
        "with --out, now otherwise)",
    )
    simulate.add_argument(
        "--format",
        default="canonical",
        metavar="F",
        help="what the source systems send (when sending): canonical (default); native - "
        "filings as DVC sync records, documents as edXML messages and status packets, "
        "security alerts as Suricata EVE, Wazuh alerts, ECS alerts and CEF lines (their "
        "acknowledgements and resolutions canonical); or a list of those formats with "
        "shares, e.g. dvc,edxml,suricata=3,wazuh=1 (a source none is listed for, and what "
        "no listed format can carry, stays canonical)",
    )
    _common(simulate)

    replay = sub.add_parser(
        "replay",
        help="send a file of records through ingest (canonical NDJSON, or any ingest format)",
        description="Sends FILE through the HTTP ingest of a running IOC, with progress "
        "lines. Without --format, FILE is NDJSON of canonical records (one per line, each "
        "naming its source, or all of --source). With --format F --source S, FILE is what "
        "a source system wrote (Suricata eve.json, Wazuh alerts.json, CEF lines, a filing "
        "sync export, an edXML message...): a file that is one document (XML, a JSON "
        "array) goes in one request, any other in requests of 500 lines, and the server "
        "parses and maps it as POST /ingest/S?format=F does. Replaying a file twice "
        "stores nothing twice.",
    )
    replay.add_argument("file", type=Path, help="the file to send")
    replay.add_argument(
        "--source",
        choices=SOURCES,
        default=None,
        help="source for every record (default: each record's 'source' field; "
        "required with --format)",
    )
    replay.add_argument(
        "--format",
        default=None,
        help="the file's ingest format (see the README's Formats; `canonical` is the "
        "default without it)",
    )
    _common(replay)

    poll = sub.add_parser(
        "poll",
        help="pull records from a source system's HTTP endpoint on an interval",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Pull records from one HTTP endpoint of a source system (e.g. a one-stop-shop's
filing-sync API) every IOC_POLL_INTERVAL_S: GET IOC_POLL_URL with the cursor in the
query parameter IOC_POLL_CURSOR_PARAM (default `since`), hand the answer's records to
the format pipeline of IOC_POLL_SOURCE / IOC_POLL_FORMAT (as POST /ingest does), and
store the next cursor in the database under the poller's name - only after the broker
acknowledged every record of the answer. A restart resumes from the stored cursor; a
crash re-reads at most one answer, whose records are de-duplicated by event id.

Where the next cursor comes from (set one):
  IOC_POLL_NEXT_CURSOR   body:<json.path> or header:<Name>: a value the source names
                         (page token, modification time); missing or null keeps it
  IOC_POLL_CURSOR_FIELD  a time field of the records (ISO 8601, yyyyMMddHHmmss in
                         Vietnam time, or a number): the latest value becomes the cursor
IOC_POLL_RECORDS_FIELD names the list of records inside a JSON answer (e.g. `items`);
empty = the whole body is the records (JSON array, one object, NDJSON, XML).

Errors: connection refused, timeouts, 5xx and 429 back off from 1 s up to
IOC_POLL_BACKOFF_MAX_S (Retry-After honoured); another 4xx is logged with what to fix
and asked again every IOC_POLL_SLOW_INTERVAL_S. While the broker is down the poller
holds its one answer and pulls nothing more. One log line per episode.

Needs:
  the source endpoint  IOC_POLL_URL (--url), IOC_POLL_TOKEN (a bearer token, if the
                       source wants one; environment only)
  the Kafka broker     IOC_KAFKA_BOOTSTRAP - records go to <prefix>.<source>
  the database         IOC_DATABASE_URL - the cursor lives in poll_cursors (`ioc migrate`)
  no ingest token

{FINDING}

Metrics on IOC_POLL_METRICS_PORT (0 = off): ioc_poll_requests_total, ioc_poll_records_total,
ioc_poll_cursor_age_seconds, ioc_poll_held_records.""",
    )
    poll.add_argument("--name", default=None, help="the poller's name (IOC_POLL_NAME)")
    poll.add_argument("--url", default=None, help="the endpoint to GET (IOC_POLL_URL)")
    poll.add_argument(
        "--source", choices=SOURCES, default=None, help="the records' source (IOC_POLL_SOURCE)"
    )
    poll.add_argument(
        "--format", default=None,
        help="the records' format (IOC_POLL_FORMAT; default: detected per record)",
    )  # fmt: skip
    _common(poll)

    syslog = sub.add_parser(
        "syslog",
        help="receive security devices' syslog (UDP and TCP) through the format pipeline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Listen for syslog from firewalls, IDS sensors and SIEM relays - UDP and TCP on
IOC_SYSLOG_UDP_PORT / IOC_SYSLOG_TCP_PORT (default 5514 both, on IOC_SYSLOG_HOST,
default 127.0.0.1: set 0.0.0.0 for other machines) - and hand each message to the
format pipeline of IOC_SYSLOG_SOURCE (default security), as POST /ingest does.

What it reads:
  headers    RFC 5424 (<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG) and RFC 3164
             (<PRI>Mmm dd hh:mm:ss HOST TAG: MSG; a time without year or zone is
             taken as Asia/Ho_Chi_Minh)
  MSG        a CEF line (CEF:0|...) or a JSON record (Suricata EVE, Wazuh, ECS,
             canonical), detected per message; IOC_SYSLOG_FORMAT (--format) names one
  framing    UDP: one datagram, one message; TCP: octet counting (RFC 6587,
             "LEN SP MSG") or one message per line (LF, CRLF or NUL), decided per
             connection by its first byte (a digit: octet counting)
Records that name no agency get IOC_SYSLOG_AGENCY (--agency), like ?agency=.

Refused messages - longer than IOC_SYSLOG_MAX_FRAME_BYTES, a broken octet count, a
header it cannot read, not UTF-8, neither CEF nor JSON, or refused by their format -
go to the dead-letter topic with their bytes and the reason.

Batches of IOC_SYSLOG_BATCH_RECORDS or IOC_SYSLOG_BATCH_MS are published and held
until the broker acknowledges them. At most IOC_SYSLOG_BUFFER_RECORDS wait: when
that many do (the broker is down), TCP connections stop reading - their senders wait
- and UDP messages are dropped and counted, until it drains to half. One log line
per episode. SIGTERM/SIGINT delivers what is held (at most IOC_SYSLOG_DRAIN_S).
`ioc up` runs it as its role `syslog` (unless --no-syslog); run it alone against
any broker, or beside an `ioc up --no-syslog`.

Needs:
  the Kafka broker     IOC_KAFKA_BOOTSTRAP - records go to <prefix>.<source>, refused
                       ones to <prefix>.deadletter
  no database, no ingest token

{FINDING}

Metrics on IOC_SYSLOG_METRICS_PORT (0 = off): ioc_syslog_messages_total,
ioc_syslog_dropped_total, ioc_syslog_refused_total, ioc_syslog_records_total,
ioc_syslog_buffered_records, ioc_syslog_backpressure, ioc_syslog_udp_kernel_drops,
ioc_syslog_tcp_connections.""",
    )
    syslog.add_argument("--host", default=None, help="address to bind (IOC_SYSLOG_HOST)")
    syslog.add_argument(
        "--udp-port", type=int, default=None, help="UDP port, 0 = none (IOC_SYSLOG_UDP_PORT)"
    )
    syslog.add_argument(
        "--tcp-port", type=int, default=None, help="TCP port, 0 = none (IOC_SYSLOG_TCP_PORT)"
    )
    syslog.add_argument(
        "--source", choices=SOURCES, default=None,
        help="the records' source (IOC_SYSLOG_SOURCE, default security)",
    )  # fmt: skip
    syslog.add_argument(
        "--format", default=None,
        help="the format of every MSG (IOC_SYSLOG_FORMAT; default: CEF or JSON, detected)",
    )  # fmt: skip
    syslog.add_argument(
        "--agency", default=None, help="agency code for records that name none (IOC_SYSLOG_AGENCY)"
    )
    _common(syslog)

    bench = sub.add_parser(
        "bench",
        help="measure throughput and latency against a bare ceiling",
        description="Starts its own embedded broker and database, pushes N simulated events "
        "through ingest → Kafka → processor → database, and compares with plain aiokafka "
        "consume + asyncpg COPY of the same events in the same run.",
    )
    bench.add_argument("--events", type=int, default=20_000, help="events to push (default 20000)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument(
        "--processors",
        type=int,
        default=1,
        help="`ioc process` instances in one consumer group, in both the processor-only "
        "stage and the pipeline (default 1)",
    )
    _common(bench)
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    return load_settings(data_dir=getattr(args, "data_dir", None), **extra)


def _connected(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings for a role that needs the broker and the database."""
    settings = with_runtime(_settings(args, **extra))
    missing = [
        name for name, value in (("IOC_KAFKA_BOOTSTRAP", settings.kafka_bootstrap),
                                 ("IOC_DATABASE_URL", settings.database_url)) if not value
    ]  # fmt: skip
    if missing:
        raise SystemExit(
            f"ioc {args.command}: {' and '.join(missing)} not set and no running `ioc up` "
            f"found: there is no {settings.runtime_file.absolute()}.\n"
            f"  Set them, or start `ioc up` first; --data-dir DIR or IOC_DATA_DIR (default "
            f".ioc) says where its runtime.json is."
        )
    return settings


def _pid_runs(pid: int) -> bool:
    if pid <= 0:  # 0 and negatives would name process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _sending(args: argparse.Namespace) -> Settings:
    """Settings for a command that sends through HTTP ingest.

    With IOC_INGEST_TOKEN set it sends to IOC_API_URL (or IOC_API_HOST/PORT); otherwise
    it needs a running `ioc up`, found through `<data-dir>/runtime.json`.
    """
    settings = _settings(args)
    if settings.ingest_token:
        return with_runtime(settings)
    path = settings.runtime_file.absolute()
    runtime = read_runtime(path)
    if runtime is not None and _pid_runs(runtime.pid):
        return with_runtime(settings)
    if runtime is not None:
        found = f"{path} is left from an `ioc up` (pid {runtime.pid}) that no longer runs"
    elif path.exists():
        found = f"{path} is there but unreadable"
    else:
        found = f"there is no {path}"
    api = f"IOC_API_URL is {settings.api_url}, but " if settings.api_url else ""
    raise SystemExit(
        f"ioc {args.command}: no running `ioc up` found: {found}.\n"
        f"  The data directory it looked in is {path.parent}: choose it with --data-dir DIR\n"
        f"  or IOC_DATA_DIR (default .ioc in the current directory), the same as `ioc up`'s.\n"
        f"  Start `ioc up` there, point --data-dir at the running one's data directory, or\n"
        f"  send to an API elsewhere: {api}set IOC_INGEST_TOKEN (and IOC_API_URL, e.g.\n"
        f"  http://127.0.0.1:8000)."
    )


def cmd_up(args: argparse.Namespace) -> int:
    from ingestors.render import FormatChoice
    from ioc.clock import working_calendar
    from ioc.supervisor import Supervisor

    try:
        FormatChoice.parse(args.simulate_format)
    except ValueError as error:
        raise SystemExit(f"ioc up: --simulate-format: {error}") from None
    if args.processors is not None and args.processors < 1:
        raise SystemExit("ioc up: --processors must be at least 1")
    settings = _settings(args, api_host=args.host, api_port=args.port, processors=args.processors)
    working_calendar(settings)  # a bad IOC_WORKING_TIME_FILE: say so now, start nothing
    return Supervisor(
        settings,
        simulate=not args.no_simulate,
        simulate_rate=args.rate,
        simulate_format=args.simulate_format,
        syslog=not args.no_syslog,
    ).run()


def _serve(args: argparse.Namespace, *, with_api: bool) -> int:
    import uvicorn

    from ioc.api.app import create_app

    settings, generated = _connected(
        args, api_host=args.host, api_port=args.port
    ).with_ingest_token()
    if generated:
        token = settings.ingest_token
        print(f"ioc: IOC_INGEST_TOKEN is not set; this run's token is {token}", file=sys.stderr)
    app = create_app(settings, with_ingest=True, with_api=with_api)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="warning")
    return 0


async def _migrations_pending(command: str, settings: Settings) -> bool:
    """Whether the schema lacks a migration, said on stderr as what to run: a role that
    writes the database refuses to start on a schema it does not know. Waits for a
    database that is not up yet (`ioc.waiting`)."""
    import asyncpg

    from ioc.db import location
    from ioc.db.migrate import pending_migrations
    from ioc.waiting import reach

    conn = await reach(
        lambda: asyncpg.connect(settings.database_url),
        f"the database at {location(settings.database_url)}", "IOC_DATABASE_URL",
    )  # fmt: skip
    try:
        pending = await pending_migrations(conn)
    finally:
        await conn.close()
    if pending:
        print(
            f"ioc {command}: migrations pending ({', '.join(pending)}); run `ioc migrate`",
            file=sys.stderr,
        )
    return bool(pending)


def _run_on_current_schema(
    command: str, settings: Settings, run: Callable[[Settings], Awaitable[None]]
) -> int:
    """Run a role that writes the database, once its schema is known to be current;
    exit code 2 (and what to run) when a migration is pending."""

    async def main() -> int:
        if await _migrations_pending(command, settings):
            return 2
        await run(settings)
        return 0

    return asyncio.run(main())


def cmd_process(args: argparse.Namespace) -> int:
    from ioc.clock import working_calendar
    from streams.processor import run_processor

    settings = _connected(args)
    working_calendar(settings)  # a bad IOC_WORKING_TIME_FILE: say so before connecting

    return _run_on_current_schema("process", settings, run_processor)


def cmd_migrate(args: argparse.Namespace) -> int:
    from ioc.clock import clock_for, working_calendar
    from ioc.db.migrate import ensure_database, migrate

    settings = with_runtime(_settings(args))
    calendar = working_calendar(settings)  # a rebuilt state counts in it
    if not settings.database_url:
        raise SystemExit(
            f"ioc migrate: IOC_DATABASE_URL not set and no running `ioc up` found: there is "
            f"no {settings.runtime_file.absolute()}.\n  Set it, or start `ioc up` first; "
            f"--data-dir DIR or IOC_DATA_DIR (default .ioc) says where its runtime.json is."
        )

    async def main() -> list[str]:
        await ensure_database(settings.database_url)
        return await migrate(settings.database_url, clock_for(settings, calendar))

    applied = asyncio.run(main())
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def _start_time(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise SystemExit("ioc simulate: --start needs a UTC offset, e.g. 2026-01-05T08:00+07:00")
    return moment


def cmd_simulate(args: argparse.Namespace) -> int:
    from itertools import islice

    from ingestors.render import FormatChoice
    from ingestors.simulator import MEAN_GAP_MS, Pace, generate, stream
    from ioc.clock import working_calendar

    try:
        choice = FormatChoice.parse(args.format)
    except ValueError as error:
        raise SystemExit(f"ioc simulate: --format: {error}") from None
    if args.out is not None and not choice.canonical:
        raise SystemExit(
            "ioc simulate: --format applies when sending; --out writes canonical NDJSON "
            "(leave out --out to send in the source systems' formats)"
        )
    # Appointments count the working days of the calendar the processor judges with.
    calendar = working_calendar(_settings(args))
    if args.out is not None:
        count = args.count or 1000
        start = _start_time(args.start, datetime.fromisoformat("2026-01-05T08:00:00+07:00"))
        pace: Pace = args.pace or "realistic"
        with args.out.open("w", encoding="utf-8") as out:
            for record in generate(args.seed, count, start, pace=pace, calendar=calendar):
                out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"wrote {count:,} records to {args.out}", file=sys.stderr)
        return 0

    from ingestors.client import IngestClient
    from ingestors.render import Natives
    from ingestors.sender import send_records, send_rendered

    settings = _sending(args)
    start = _start_time(args.start, datetime.now(UTC))
    # Paced sending keeps simulated time in step with the wall clock; the demo pace (the
    # default here, so `ioc up`'s) fits whole lifecycles into minutes of it.
    pace = args.pace or "demo"
    gap = 1000 / args.rate if args.rate else MEAN_GAP_MS
    records = stream(args.seed, start, gap, pace, calendar)
    if args.count is not None:
        records = islice(records, args.count)

    async def main() -> int:
        async with IngestClient(api_url(settings), settings.ingest_token) as client:
            if not choice.canonical:
                print(f"ioc simulate: formats {choice.describe()}", file=sys.stderr)
                summary = await send_rendered(
                    client, Natives(choice, pace).stream(records), label="simulate",
                    total=args.count, rate=args.rate,
                )  # fmt: skip
                return 0 if summary.ok else 1
            summary = await send_records(
                client, ((r["source"], r) for r in records), label="simulate",
                total=args.count, rate=args.rate,
            )  # fmt: skip
        return 0 if summary.ok else 1

    return asyncio.run(main())


def cmd_replay(args: argparse.Namespace) -> int:
    from ingestors.client import IngestClient
    from ingestors.replay import replay, replay_format

    if not args.file.is_file():
        raise SystemExit(f"ioc replay: no such file {args.file}")
    settings = _sending(args)

    if args.format is not None and args.source is None:
        raise SystemExit("ioc replay: --format needs --source (where the file's records go)")
    data = args.file.read_bytes() if args.format is not None else b""

    async def main() -> int:
        async with IngestClient(api_url(settings), settings.ingest_token) as client:
            if args.format is None:
                summary = await replay(args.file, client, source=args.source)
            else:
                try:
                    summary = await replay_format(
                        data, args.file.name, client, source=args.source, format=args.format
                    )
                except ValueError as error:  # a file that cannot be cut into requests
                    print(f"ioc replay: {error}", file=sys.stderr)
                    return 2
        for line, why in summary.unreadable[:10]:
            print(f"  line {line}: {why}", file=sys.stderr)
        for refusal in summary.first_errors:
            print(f"  rejected {refusal}", file=sys.stderr)
        return 0 if summary.ok else 1

    return asyncio.run(main())


def cmd_poll(args: argparse.Namespace) -> int:
    from ingestors.poller import PollConfigError, PollSpec, run_poller

    settings = _connected(
        args, poll_name=args.name, poll_url=args.url, poll_source=args.source,
        poll_format=args.format,
    )  # fmt: skip
    try:
        PollSpec.from_settings(settings)
    except PollConfigError as error:
        print(f"ioc poll: {error}", file=sys.stderr)
        return 2

    return _run_on_current_schema("poll", settings, run_poller)


def cmd_syslog(args: argparse.Namespace) -> int:
    from ingestors.syslog import SyslogConfigError, SyslogSpec, run_syslog

    settings = with_runtime(
        _settings(
            args, syslog_host=args.host, syslog_udp_port=args.udp_port,
            syslog_tcp_port=args.tcp_port, syslog_source=args.source,
            syslog_format=args.format, syslog_agency=args.agency,
        )
    )  # fmt: skip
    try:
        SyslogSpec.from_settings(settings)
    except SyslogConfigError as error:
        print(f"ioc syslog: {error}", file=sys.stderr)
        return 2
    if not settings.kafka_bootstrap:
        raise SystemExit(
            f"ioc syslog: IOC_KAFKA_BOOTSTRAP not set and no running `ioc up` found: there "
            f"is no {settings.runtime_file.absolute()}.\n  Set it, or start `ioc up` first; "
            f"--data-dir DIR or IOC_DATA_DIR (default .ioc) says where its runtime.json is."
        )
    try:
        asyncio.run(run_syslog(settings))
    except SyslogConfigError as error:  # a port it cannot listen on
        print(f"ioc syslog: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ioc.bench import run_bench

    if args.processors < 1:
        print("ioc bench: --processors must be at least 1", file=sys.stderr)
        return 2
    return run_bench(
        _settings(args), events=args.events, as_json=args.json, processors=args.processors
    )


COMMANDS = {
    "up": cmd_up,
    "serve": lambda args: _serve(args, with_api=True),
    "ingest": lambda args: _serve(args, with_api=False),
    "process": cmd_process,
    "migrate": cmd_migrate,
    "simulate": cmd_simulate,
    "replay": cmd_replay,
    "bench": cmd_bench,
    "poll": cmd_poll,
    "syslog": cmd_syslog,
}


def _log_label(command: str, settings: Settings) -> str:
    """What a process's log lines are labelled with: its command, or a processor's name."""
    if command == "process" and settings.processor_name:
        return settings.processor_name
    return command


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        setup_logging(_log_label(args.command, settings), settings.log_level)
    except ValueError as error:
        print(f"ioc: invalid IOC_* setting:\n{error}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a service's error becomes one line that says what to do
        hint = _hint(error)
        if hint is None:
            raise
        print(f"ioc {args.command}: {type(error).__name__}: {error}\n  {hint}", file=sys.stderr)
        return 2


def _hint(error: Exception) -> str | None:
    """What to do about an error from a service, or None for a bug (keep the traceback)."""
    import asyncpg
    from aiokafka.errors import KafkaError

    from ingestors.client import IngestError
    from ioc.api.auth import TokenFileError
    from ioc.clock import WorkingTimeFileError

    if isinstance(error, IngestError):
        return "the API refused the records or stayed unavailable: act on its answer above"
    if isinstance(error, TokenFileError):
        return "fix the file named by IOC_INGEST_TOKENS_FILE, or unset it (see the README)"
    if isinstance(error, WorkingTimeFileError):
        return (
            "fix the file named by IOC_WORKING_TIME_FILE (ioc/reference/working_time.yaml "
            "shows every key), or unset it for the shipped calendar"
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return "the database does not exist yet: `ioc migrate` creates it and its schema"
    if isinstance(
        error, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return "the database refused the credentials in IOC_DATABASE_URL"
    if isinstance(error, KafkaError):
        return "check that the broker at IOC_KAFKA_BOOTSTRAP runs and is reachable"
    if isinstance(error, OSError | asyncpg.PostgresConnectionError | TimeoutError):
        return "check that IOC_DATABASE_URL and IOC_KAFKA_BOOTSTRAP name services that run"
    return None
