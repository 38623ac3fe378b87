from ioc.api.live import CLIENT_QUEUE, LiveHub
from ioc.config import Settings


async def test_a_slow_client_is_cut_loose_and_the_others_keep_up() -> None:
    hub = LiveHub(Settings())
    slow, fast = hub.subscribe(), hub.subscribe()
    for n in range(CLIENT_QUEUE + 10):
        hub.publish({"type": "delta", "n": n})
        while not fast.queue.empty():
            fast.queue.get_nowait()
    assert slow.overflowed.is_set()
    assert not fast.overflowed.is_set()
    assert hub.clients == 1
    hub.publish({"type": "delta", "n": "last"})
    assert fast.queue.get_nowait() == {"type": "delta", "n": "last"}


async def test_unsubscribed_clients_get_nothing() -> None:
    hub = LiveHub(Settings())
    client = hub.subscribe()
    hub.unsubscribe(client)
    hub.publish({"type": "delta"})
    assert client.queue.empty() and hub.clients == 0
