"""The processors `ioc up` runs: how many, what they are called, where their metrics are.

How many (README, "How many processors"): `ioc up --processors N`, else `IOC_PROCESSORS`,
else one per CPU core `ioc up` may use (its CPU affinity, what `nproc` counts), at most
the partitions of the source topics (`IOC_TOPIC_PARTITIONS` × 3). The processor's work
is Python - decode, fold, rollups - so one process keeps about one core busy, and
`ioc bench` on two cores measured 13.6k events/s with one, 26.6k with two and 28k with
three. A member of the consumer group beyond the partitions is given none: it idles.

Names: a single processor is the role `process`, as it always was; more are
`process-1` … `process-N`. Each is an `ioc process` with `IOC_PROCESSOR_NAME` set to
its role's name, so its log lines, Kafka client id and health report say which it is.

Metrics ports: with `IOC_PROCESSOR_METRICS_PORT` P set, the processors get P, P+1 …
P+N-1 (for a scrape configuration); unset, each gets a free port, kept across its
restarts. Pure but for `usable_cpus`, which asks the kernel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ioc.config import SOURCES

SINGLE = "process"
_ROLE = re.compile(r"process(?:-([1-9][0-9]*))?")


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, as `nproc` counts), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def source_partitions(topic_partitions: int) -> int:
    """Partitions a processor group shares: the source topics' (the dead-letter topic's
    one partition is light work beside them)."""
    return topic_partitions * len(SOURCES)


@dataclass(frozen=True, slots=True)
class ProcessorCount:
    count: int
    why: str  # for the banner: where the number comes from
    idle: int = 0  # members beyond the partitions, which get none


def processor_count(requested: int, cpus: int, partitions: int) -> ProcessorCount:
    """How many processors: `requested` when above 0 (--processors or IOC_PROCESSORS),
    else one per CPU core, at most `partitions`, at least one."""
    if requested > 0:
        return ProcessorCount(
            requested, "as asked (--processors or IOC_PROCESSORS)", max(0, requested - partitions)
        )
    count = max(1, min(cpus, partitions))
    cores = f"{cpus} CPU core{'s' if cpus != 1 else ''}"
    if cpus > partitions:
        why = f"one per CPU core ({cores}), at most one per partition ({partitions})"
    else:
        why = f"one per CPU core ({cores}, {partitions} partitions)"
    return ProcessorCount(count, why)


def processor_names(count: int) -> list[str]:
    """The roles' names: `process` alone, else `process-1` … `process-<count>`."""
    return [SINGLE] if count == 1 else [f"{SINGLE}-{i}" for i in range(1, count + 1)]


def is_processor_role(name: str) -> bool:
    return _ROLE.fullmatch(name) is not None


def processor_number(name: str) -> int | None:
    """2 for `process-2`; None for `process` and any other name."""
    match = _ROLE.fullmatch(name)
    return int(match.group(1)) if match and match.group(1) else None


def metrics_ports(
    names: Sequence[str], base: int, api_port: int, free_port: Callable[[], int]
) -> Mapping[str, int]:
    """Each processor's /metrics port: `base`, `base`+1 … when `base` is set, else free
    ports from `free_port`; never the API's port, never one port twice."""
    if base:
        ports = {name: base + i for i, name in enumerate(names)}
        if api_port in ports.values():
            which = (
                f"port {base} (IOC_PROCESSOR_METRICS_PORT) is"
                if len(names) == 1
                else f"ports {base}-{base + len(names) - 1} (IOC_PROCESSOR_METRICS_PORT and "
                f"the {len(names) - 1} after it) include"
            )
            raise ValueError(
                f"the processors' metrics {which} the API's port {api_port}; choose another "
                "IOC_PROCESSOR_METRICS_PORT"
            )
        return ports
    taken = {api_port}
    chosen: dict[str, int] = {}
    for name in names:
        port = free_port()
        while port in taken:
            port = free_port()
        taken.add(port)
        chosen[name] = port
    return chosen
