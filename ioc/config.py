"""All settings, in one place: environment variables `IOC_*` read by pydantic-settings.

Every process (API, ingest, processor, simulator, bench) builds one `Settings` and
passes it down; nothing else reads the environment. Secrets come only from the
environment, never from files in the repository.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCES: tuple[str, ...] = ("documents", "filings", "security")
Source = Literal["documents", "filings", "security"]


class Settings(BaseSettings):
    """Runtime configuration. Empty broker/database settings mean "use the embedded ones"."""

    model_config = SettingsConfigDict(env_prefix="IOC_", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development", description="`production` refuses insecure defaults."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every process."
    )
    data_dir: Path = Field(Path(".ioc"), description="Where `ioc up` keeps its data.")

    kafka_bootstrap: str = Field("", description="Kafka bootstrap servers; empty = embedded.")
    database_url: str = Field("", description="PostgreSQL URL; empty = embedded.")

    topic_prefix: str = Field("ioc", description="Prefix of every topic name.")
    topic_partitions: int = Field(3, ge=1, description="Partitions of the per-source topics.")

    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, description="Port the API listens on.")
    api_url: str = Field("", description="Where clients find the API; derived when empty.")

    ingest_token: str = Field("", description="Bearer token for POST /ingest/* (all sources).")
    ingest_tokens_file: Path | None = Field(
        None,
        description="YAML of per-source-system ingest tokens (name, token_sha256 or token, "
        "the sources it may post to); empty = only IOC_INGEST_TOKEN.",
    )
    ingest_max_body_bytes: int = Field(32 * 1024 * 1024, description="Largest request body.")
    ingest_max_records: int = Field(50_000, description="Most records in one request.")

    processor_group: str = Field("ioc-processor", description="Kafka consumer group.")
    processors: int = Field(
        0,
        ge=0,
        description="Processors `ioc up` starts, in one consumer group (`ioc up --processors`); "
        "0 = one per CPU core it may use, at most the source topics' partitions.",
    )
    processor_name: str = Field(
        "",
        description="This processor's name: its log label, Kafka client id and health report "
        "(`ioc up` names its processors after their roles, process-1 … process-N).",
    )
    processor_batch_max: int = Field(2000, ge=1, description="Most records in one micro-batch.")
    processor_poll_ms: int = Field(200, ge=1, description="Longest wait for a micro-batch.")
    processor_metrics_port: int = Field(
        0,
        description="Processor /metrics port; 0 = off. `ioc up` gives its processors this "
        "port and the ones after it (process-1 this one), or free ones when 0.",
    )
    processor_history_cache_events: int = Field(
        200_000,
        ge=0,
        description="Most stored events the processor keeps in memory, as entity histories, "
        "so that refolding an entity need not read its history back (about 1 KB each; "
        "0 = always read it).",
    )
    kafka_session_timeout_ms: int = Field(
        6000,
        description="Consumer session timeout. The embedded broker makes a first join wait "
        "about half of it, so it is kept short.",
    )

    kafka_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        description="Longest a fetch waits on the broker for data. The embedded broker "
        "holds a fetch this long even when data arrives, so it bounds latency.",
    )

    processor_drain_s: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM/SIGINT the processor first stores what the broker already "
        "holds for its partitions, for at most this long (0 = stop after the current batch).",
    )
    processor_status_s: float = Field(
        2.0, gt=0, description="Seconds between a processor's progress reports."
    )
    health_stall_s: float = Field(
        30.0,
        gt=0,
        description="A processor with records waiting and no committed batch for this long "
        "is stalled.",
    )
    health_max_lag: int = Field(
        20_000, ge=1, description="Records waiting (consumer lag) above which IOC is lagging."
    )

    reference_file: Path | None = Field(
        None,
        description="YAML of the province's agencies and procedures (names, levels, "
        "cadences); empty = the shipped example province.",
    )
    working_time_file: Path | None = Field(
        None,
        description="YAML of the working time deadlines count in (working hours, weekend, "
        "public holidays, each year's days off), like ioc/reference/working_time.yaml; "
        "empty = that shipped file.",
    )
    clock_tick_s: float = Field(
        30.0,
        gt=0,
        description="Seconds between the processor's clock ticks, which turn overdue, at "
        "risk and unattended as time passes, even when no event arrives.",
    )
    at_risk_working_hours: float = Field(
        8.0, gt=0, description="A filing due within this much working time is at risk."
    )
    alert_ack_minutes: float = Field(
        15.0, gt=0, description="An open alert nobody acknowledged for this long is unattended."
    )

    live_heartbeat_s: float = Field(10.0, gt=0, description="Seconds between heartbeats.")

    # The poller (`ioc poll`, ingestors/poller.py): pulls one source system's endpoint.
    poll_name: str = Field(
        "", description="The poller's name: its cursor is stored under it (one per endpoint)."
    )
    poll_url: str = Field("", description="The source system's endpoint the poller GETs.")
    poll_source: Literal["", "documents", "filings", "security"] = Field(
        "", description="The source the polled records belong to."
    )
    poll_format: str = Field(
        "", description="The format of the polled records; empty = detected per record."
    )
    poll_token: str = Field(
        "", description="Bearer token sent to the source system (secret: environment only)."
    )
    poll_cursor_param: str = Field(
        "since", description="Query parameter that carries the cursor in each request."
    )
    poll_initial_cursor: str = Field(
        "", description="Cursor of the very first request; empty = no cursor parameter."
    )
    poll_next_cursor: str = Field(
        "",
        description="Where an answer names the next cursor: `body:<json.path>` or "
        "`header:<Name>`; empty = the maximum of IOC_POLL_CURSOR_FIELD over the records.",
    )
    poll_cursor_field: str = Field(
        "", description="A time field of the records whose maximum becomes the next cursor."
    )
    poll_records_field: str = Field(
        "", description="JSON path of the records in the answer; empty = the whole body."
    )
    poll_interval_s: float = Field(
        30.0, gt=0, description="Seconds between polls once the poller has caught up."
    )
    poll_slow_interval_s: float = Field(
        300.0, gt=0, description="Seconds before asking again after a 4xx (other than 429)."
    )
    poll_timeout_s: float = Field(30.0, gt=0, description="Longest wait for one answer.")
    poll_backoff_max_s: float = Field(
        300.0, gt=0, description="Longest backoff after errors (doubling from 1 s)."
    )
    poll_metrics_port: int = Field(0, description="The poller's /metrics port; 0 = off.")

    # The syslog listener (`ioc syslog`, ingestors/syslog.py): devices' alerts over UDP/TCP.
    syslog_host: str = Field(
        "127.0.0.1", description="Address the syslog listener binds (0.0.0.0: every interface)."
    )
    syslog_udp_port: int = Field(
        5514, ge=0, le=65535, description="UDP port of the syslog listener; 0 = no UDP."
    )
    syslog_tcp_port: int = Field(
        5514, ge=0, le=65535, description="TCP port of the syslog listener; 0 = no TCP."
    )
    syslog_source: Literal["documents", "filings", "security"] = Field(
        "security", description="The source the syslog messages' records belong to."
    )
    syslog_format: str = Field(
        "", description="The format of every MSG; empty = CEF or JSON, detected per message."
    )
    syslog_agency: str = Field(
        "", description="Agency code for records that name none (as ?agency= does over HTTP)."
    )
    syslog_max_frame_bytes: int = Field(
        64 * 1024, ge=1024, description="Longest syslog message; a longer one is refused."
    )
    syslog_buffer_records: int = Field(
        10_000,
        ge=1,
        description="Most messages held unacknowledged by the broker; when reached, TCP stops "
        "reading and UDP drops (counted) until it drains to half.",
    )
    syslog_batch_records: int = Field(500, ge=1, description="Most messages in one batch.")
    syslog_batch_ms: float = Field(
        50.0, gt=0, description="Longest a message waits for its batch to fill."
    )
    syslog_backoff_max_s: float = Field(
        30.0, gt=0, description="Longest backoff while the broker does not acknowledge."
    )
    syslog_drain_s: float = Field(
        30.0, ge=0, description="On SIGTERM/SIGINT, longest wait to deliver what is held."
    )
    syslog_metrics_port: int = Field(0, description="The syslog listener's /metrics port; 0 = off.")

    fault_pause_at: Literal["", "mid_batch", "after_db_commit"] = Field(
        "",
        description="Testing only: the processor stops dead at this point of its first "
        "batch (and says so on stderr) so that a test can SIGKILL it there.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("working_time_file", "reference_file", "ingest_tokens_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty file setting means what its description says empty means (the shipped
        file, no token file), not the directory '.'."""
        return None if isinstance(value, str) and not value.strip() else value

    def with_ingest_token(self) -> tuple[Settings, bool]:
        """These settings with an ingest token, and whether it was generated just now.

        Development without IOC_INGEST_TOKEN gets a random one, which the caller must
        print (nobody could send anything otherwise); production refuses to run.
        """
        if self.ingest_token:
            return self, False
        if self.env == "production" and self.ingest_tokens_file is not None:
            return self, False  # the source systems' own tokens: no all-sources one
        if self.env == "production":
            raise ValueError("IOC_INGEST_TOKEN must be set when IOC_ENV=production")
        return self.model_copy(update={"ingest_token": secrets.token_urlsafe(24)}), True

    def environment(self) -> dict[str, str]:
        """These settings as `IOC_*` variables, so a child process gets exactly them."""
        return {
            f"IOC_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None  # unset stays unset: "None" would be read as a value
        }

    def topic(self, name: str) -> str:
        """Full topic name: `<prefix>.<name>` (e.g. `ioc.filings`, `ioc.deadletter`)."""
        return f"{self.topic_prefix}.{name}"

    @property
    def source_topics(self) -> dict[str, str]:
        return {source: self.topic(source) for source in SOURCES}

    @property
    def deadletter_topic(self) -> str:
        return self.topic("deadletter")

    @property
    def live_topic(self) -> str:
        return self.topic("live")

    @property
    def runtime_file(self) -> Path:
        return self.data_dir / "runtime.json"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. from CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
