from prometheus_client import REGISTRY

from ioc.api.live import CLIENT_QUEUE, LiveHub
from ioc.config import Settings


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_a_slow_client_is_cut_loose_and_the_others_keep_up() -> None:
    hub = LiveHub(Settings())
    clients, dropped = _metric("ioc_live_clients"), _metric("ioc_live_slow_clients_total")
    slow, fast = hub.subscribe(), hub.subscribe()
    assert _metric("ioc_live_clients") == clients + 2
    for n in range(CLIENT_QUEUE + 10):
        hub.publish({"type": "delta", "n": n})
        while not fast.queue.empty():
            fast.queue.get_nowait()
    assert slow.overflowed.is_set()
    assert not fast.overflowed.is_set()
    assert hub.clients == 1
    assert _metric("ioc_live_clients") == clients + 1
    assert _metric("ioc_live_slow_clients_total") == dropped + 1
    hub.publish({"type": "delta", "n": "last"})
    assert fast.queue.get_nowait() == {"type": "delta", "n": "last"}


async def test_unsubscribed_clients_get_nothing() -> None:
    hub = LiveHub(Settings())
    client = hub.subscribe()
    hub.unsubscribe(client)
    hub.publish({"type": "delta"})
    assert client.queue.empty() and hub.clients == 0
