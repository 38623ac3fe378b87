"""`ioc up`'s checks before it starts anything: a taken syslog port is one clear line."""

from __future__ import annotations

import socket

import pytest

from ioc.config import Settings
from ioc.embedded.process import free_port
from ioc.supervisor import Supervisor


def test_the_syslog_listener_is_planned_on_its_ports_when_they_are_free() -> None:
    udp, tcp = free_port(), free_port()
    s = Settings(syslog_udp_port=udp, syslog_tcp_port=tcp)
    assert Supervisor(s)._syslog_listens() == [
        f"udp://127.0.0.1:{udp}",
        f"tcp://127.0.0.1:{tcp}",
    ]
    assert Supervisor(s.model_copy(update={"syslog_udp_port": 0}))._syslog_listens() == [
        f"tcp://127.0.0.1:{tcp}"
    ]
    none = s.model_copy(update={"syslog_udp_port": 0, "syslog_tcp_port": 0})
    assert Supervisor(none)._syslog_listens() == [], "both ports 0: no syslog role"
    assert Supervisor(s, syslog=False)._syslog_listens() == [], "--no-syslog"


@pytest.mark.parametrize(
    ("kind", "setting"),
    [(socket.SOCK_DGRAM, "IOC_SYSLOG_UDP_PORT"), (socket.SOCK_STREAM, "IOC_SYSLOG_TCP_PORT")],
)
def test_a_taken_syslog_port_stops_ioc_up_saying_what_to_set(
    kind: socket.SocketKind, setting: str
) -> None:
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        other = free_port()
        ports = (
            {"syslog_udp_port": port, "syslog_tcp_port": other}
            if kind == socket.SOCK_DGRAM
            else {"syslog_udp_port": other, "syslog_tcp_port": port}
        )
        with pytest.raises(RuntimeError) as refused:
            Supervisor(Settings(**ports))._syslog_listens()
    message = str(refused.value)
    assert f"syslog port {port}/" in message and setting in message
    assert "--no-syslog" in message


def test_an_ipv6_syslog_host_is_checked_as_ipv6() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    s = Settings(syslog_host="::1", syslog_udp_port=0, syslog_tcp_port=port)
    assert Supervisor(s)._syslog_listens() == [f"tcp://[::1]:{port}"]
