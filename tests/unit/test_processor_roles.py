"""How many processors `ioc up` starts, what they are called, and where their metrics are."""

from __future__ import annotations

import itertools

import pytest

from ioc.processor_roles import (
    is_processor_role,
    metrics_ports,
    processor_count,
    processor_names,
    processor_number,
    source_partitions,
    usable_cpus,
)


def test_by_default_one_processor_per_core_at_most_one_per_partition_at_least_one() -> None:
    partitions = source_partitions(3)
    assert partitions == 9  # documents, filings, security: 3 partitions each
    assert processor_count(0, cpus=2, partitions=9).count == 2
    assert processor_count(0, cpus=1, partitions=9).count == 1
    capped = processor_count(0, cpus=16, partitions=9)
    assert capped.count == 9 and capped.idle == 0
    assert "16 CPU cores" in capped.why and "at most one per partition (9)" in capped.why
    assert (
        processor_count(0, cpus=2, partitions=9).why
        == "one per CPU core (2 CPU cores, 9 partitions)"
    )
    assert processor_count(0, cpus=0, partitions=9).count == 1


def test_a_count_asked_for_is_kept_and_members_beyond_the_partitions_are_counted_idle() -> None:
    asked = processor_count(4, cpus=2, partitions=9)
    assert asked.count == 4 and asked.idle == 0 and "as asked" in asked.why
    assert processor_count(12, cpus=2, partitions=9).idle == 3


def test_usable_cpus_is_at_least_one() -> None:
    assert usable_cpus() >= 1


def test_a_single_processor_keeps_its_old_name_more_are_numbered() -> None:
    assert processor_names(1) == ["process"]
    assert processor_names(3) == ["process-1", "process-2", "process-3"]
    assert all(is_processor_role(name) for name in [*processor_names(3), "process"])
    assert not any(is_processor_role(n) for n in ("serve", "simulate", "process-0", "processor"))
    assert processor_number("process-12") == 12
    assert processor_number("process") is None and processor_number("serve") is None


def test_a_configured_metrics_port_is_the_first_of_consecutive_ones() -> None:
    names = processor_names(3)
    assert metrics_ports(names, 9400, 8000, lambda: 0) == {
        "process-1": 9400, "process-2": 9401, "process-3": 9402,
    }  # fmt: skip
    with pytest.raises(ValueError, match="include the API's port 8000"):
        metrics_ports(names, 7999, 8000, lambda: 0)
    with pytest.raises(
        ValueError, match=r"port 8000 \(IOC_PROCESSOR_METRICS_PORT\) is the API's port 8000"
    ):
        metrics_ports(["process"], 8000, 8000, lambda: 0)


def test_free_metrics_ports_are_distinct_and_never_the_api_port() -> None:
    offered = itertools.chain([8000, 41000, 41000, 41001], itertools.count(42000))
    ports = metrics_ports(processor_names(3), 0, 8000, lambda: next(offered))
    assert ports == {"process-1": 41000, "process-2": 41001, "process-3": 42000}
