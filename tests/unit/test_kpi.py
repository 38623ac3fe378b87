"""KPI formulas on hand-computed slices."""

from __future__ import annotations

from collections import Counter

import pytest

from ioc.domains import DOMAINS
from ioc.kpi import documents, filings, security


def _measures(source: str, **values: int) -> Counter[str]:
    m: Counter[str] = Counter(dict.fromkeys(DOMAINS[source].rollup.measures, 0))
    m.update(values)
    return m


def test_766_on_time_rate_counts_open_filings_not_yet_due_as_in_time() -> None:
    # 10 received: 3 early, 2 on time, 1 late, 4 open of which 1 overdue.
    m = _measures("filings", received=10, early=3, on_time=2, late=1, open=4, overdue=1)
    assert filings.on_time_rate(m) == pytest.approx((3 + 2 + 3) / 10)


def test_shares_of_filings_and_an_empty_slice() -> None:
    m = _measures("filings", received=8, online=6, full_online=2, fee_bearing=4,
                  paid_online=1, digitised=2)  # fmt: skip
    assert filings.online_share(m) == 0.75  # 766 3.3
    assert filings.full_online_share(m) == 0.25
    assert filings.online_payment_share(m) == 0.25  # 766 3.6: of fee-bearing only
    assert filings.digitised_share(m) == 0.25  # 766 4.2
    empty = _measures("filings")
    assert filings.on_time_rate(empty) is None and filings.online_share(empty) is None


def test_mean_resolution_time_is_over_finished_filings_in_hours() -> None:
    m = _measures("filings", resolution_ms_sum=3 * 3_600_000 + 5 * 3_600_000, resolved_count=2)
    assert filings.mean_resolution_hours(m) == 4.0


def test_document_shares_and_handling_time() -> None:
    m = _measures("documents", documents=20, electronic=18, signed=9, handling_ms_sum=7_200_000,
                  handled_count=4)  # fmt: skip
    assert documents.electronic_share(m) == 0.9
    assert documents.signed_share(m) == 0.45
    assert documents.mean_handling_hours(m) == 0.5


def test_mean_times_to_acknowledge_and_resolve() -> None:
    m = _measures("security", ack_ms_sum=600_000, ack_count=2, resolve_ms_sum=7_200_000,
                  resolve_count=3)  # fmt: skip
    assert security.mean_time_to_acknowledge_minutes(m) == 5.0
    assert security.mean_time_to_resolve_minutes(m) == 40.0
    assert security.mean_time_to_acknowledge_minutes(_measures("security")) is None


def test_every_catalogue_reads_only_measures_its_rollup_declares() -> None:
    from ioc.kpi.catalogue import CATALOGUES

    for source, catalogue in CATALOGUES.items():

        class Strict(dict):  # a KeyError for any measure the rollup does not have
            pass

        values = Strict(_measures(source))
        catalogue(values)
