"""A state written to its table reads back as the very same value, for every domain."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from ioc.config import Settings
from ioc.db.state import write_states
from ioc.domains import DOMAINS
from ioc.domains.base import Domain

pytestmark = pytest.mark.integration

# Values that a careless encoding would bend: microseconds, an offset other than UTC,
# a float with no short decimal form, quotes, commas, braces and Vietnamese in arrays.
_AWKWARD: dict[Any, Any] = {
    str: 'Sở "Nội vụ", {tỉnh} \\ 1',
    int: 2**53 + 1,
    float: 0.1 + 0.2,
    bool: True,
    datetime: datetime(2026, 1, 5, 8, 30, 15, 123456, tzinfo=UTC),
}


def _awkward_state(domain: Domain, entity_id: str, nulls: bool = False) -> Any:
    hints = typing.get_type_hints(domain.state_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(domain.state_type):
        hint = hints[field.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if nulls and args and len(args) < len(typing.get_args(hint)):
            values[field.name] = None  # a nullable field left empty
        elif typing.get_origin(hint) is tuple:
            values[field.name] = ('a "b", c', "{d}", "đã xử lý", "")
        else:
            values[field.name] = _AWKWARD[args[0] if args else hint]
    values[domain.entity_field] = entity_id
    return domain.state_type(**values)


@pytest.mark.parametrize("source", sorted(DOMAINS))
async def test_a_state_reads_back_exactly_as_written(settings: Settings, source: str) -> None:
    domain = DOMAINS[source]
    conn = await asyncpg.connect(settings.database_url)
    try:
        states = [_awkward_state(domain, "E-1"), _awkward_state(domain, "E-2", nulls=True)]
        await write_states(conn, domain, states)
        await write_states(conn, domain, states[:1])  # the upsert path too
        rows = await conn.fetch(
            f"SELECT * FROM {domain.state_table} ORDER BY {domain.entity_field}"
        )
    finally:
        await conn.close()
    assert [domain.state_from_row(row) for row in rows] == states
