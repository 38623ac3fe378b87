"""roles.json: what `ioc up` tells the API about its roles, in the documented shape."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ioc.roles_status import RolesStatus, RoleStatus, read_roles, roles_file, write_roles


def _status() -> RolesStatus:
    return RolesStatus(
        updated_at=datetime(2026, 11, 22, 1, 15, tzinfo=UTC),
        supervisor_pid=os.getpid(),
        roles={
            "process": RoleStatus(
                pid=None, state="restarting", restarts=2, last_exit_code=-9,
                last_exit_at=datetime(2026, 11, 22, 1, 14, 58, tzinfo=UTC),
            ),
            "serve": RoleStatus(pid=4251, state="running"),
        },
    )  # fmt: skip


def test_roles_json_round_trips_with_the_documented_shape(tmp_path: Path) -> None:
    path = roles_file(tmp_path)
    old_umask = os.umask(0o077)
    try:
        write_roles(path, _status())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["roles.json"]  # no temp file left
    raw = json.loads(path.read_text())
    assert raw["updated_at"] == "2026-11-22T01:15:00Z"
    assert raw["supervisor_pid"] == os.getpid()
    assert raw["roles"]["process"] == {
        "pid": None, "state": "restarting", "restarts": 2, "last_exit_code": -9,
        "last_exit_at": "2026-11-22T01:14:58Z",
    }  # fmt: skip
    assert raw["roles"]["serve"]["last_exit_at"] is None
    status = read_roles(path)
    assert status == _status()
    assert status.not_running() == ["process"]
    assert status.supervisor_alive()


@pytest.mark.parametrize("content", [None, "", "{not json", '{"roles": {}}'])
def test_a_missing_or_unreadable_roles_file_reads_as_none(
    tmp_path: Path, content: str | None
) -> None:
    path = roles_file(tmp_path)
    if content is not None:
        path.write_text(content)
    assert read_roles(path) is None
