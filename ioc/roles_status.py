"""`<data-dir>/roles.json`: the state of each role `ioc up` runs, for the wall screen.

`ioc up` rewrites it (atomically, mode 0644: it holds no secret) whenever a role
starts, exits, is restarted or is stopped, and removes it when it stops cleanly -
like runtime.json. The API reads it to say which role is down. Its shape:

    {"updated_at": "2026-11-22T01:15:00Z", "supervisor_pid": 4242,
     "roles": {"process": {"pid": 4250, "state": "running", "restarts": 1,
                           "last_exit_code": -9, "last_exit_at": "2026-11-22T01:14:58Z"},
               "serve": {...}, "simulate": {...}}}

The processor roles are `process` alone, or `process-1` … `process-N`
(`ioc.processor_roles`). `last_exit_code` is the code the role exited with; negative
means killed by that signal (-9 = SIGKILL). This module imports nothing from `ingestors/`
or `streams/`.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

RoleState = Literal["running", "restarting", "stopped"]
ROLES_FILE = "roles.json"


class RoleStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    pid: int | None
    state: RoleState
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None


class RolesStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    updated_at: datetime
    supervisor_pid: int
    roles: dict[str, RoleStatus]

    def not_running(self) -> list[str]:
        """Names of the roles that are restarting or stopped, in file order."""
        return [name for name, role in self.roles.items() if role.state != "running"]

    def supervisor_alive(self) -> bool:
        """Whether the `ioc up` that wrote this still runs (a SIGKILLed one leaves the file)."""
        try:
            os.kill(self.supervisor_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def roles_file(data_dir: Path) -> Path:
    return data_dir / ROLES_FILE


def write_roles(path: Path, status: RolesStatus) -> None:
    """Replace `path` atomically (temp file + rename), mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.fchmod(fd, 0o644)  # whatever the umask: the API may run as another user
    with os.fdopen(fd, "w") as out:
        out.write(status.model_dump_json(indent=2))
    os.replace(tmp, path)


def read_roles(path: Path) -> RolesStatus | None:
    """The roles as `ioc up` last wrote them, or None if there is no readable file."""
    try:
        return RolesStatus.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
