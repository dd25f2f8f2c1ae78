"""Test support shared by every app's tests: real concurrency against the real database.

Lives in core (not in a conftest) so any app's tests, and the games/AML/report suites to come, use the
same runner: one barrier, one connection per thread closed at the end (so the test database can be
dropped), every outcome returned for the test to inspect, and a hung thread reported as a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_together(count: int, work: Callable[[int], object], *, timeout: float = 60) -> list[object]:
    """Start `count` threads at one barrier; each returns work(i)'s result or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,), name=f"test-together-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def run_calls_together(*calls: Callable[[], object], timeout: float = 60) -> list[object]:
    """The same for different calls: each runs in its own thread, all released at once."""
    return run_together(len(calls), lambda i: calls[i](), timeout=timeout)


def celery_queues_for_run(default_queue: str) -> tuple[dict[str, dict], list[str]]:
    """A test run's own queues for what the settings route (CELERY_TASK_ROUTES): routes sending each routed task to
    `<default_queue>-<queue>` instead of the shared `<queue>`, and every queue a worker of the run must consume.

    A test that starts a real worker uses its own default queue, so that several runs on one Redis database never take
    each other's tasks; the routed queues need the same, and its worker must consume all of them, as production's do.
    """
    from django.conf import settings

    routes = {name: {**route, "queue": f"{default_queue}-{route['queue']}"} for name, route in settings.CELERY_TASK_ROUTES.items()}
    return routes, [default_queue, *sorted({route["queue"] for route in routes.values()})]


def broker_leftovers(url: str, queues: list[str]) -> tuple[set[bytes], list[bytes]]:
    """What a test's Celery run left on the broker's Redis database for its own `queues`: the keys named after them
    (each queue's list, one list per priority step, the binding tables of the exchange of the same name) and the
    delivery tags of the `unacked` entries of messages routed to them (a worker killed mid-task leaves its message
    there). Workers' shared remote-control exchange (`celery.pidbox`) is not the run's: kombu expires its bindings."""
    import json

    import redis

    client = redis.Redis.from_url(url)
    separator = "\x06\x16"  # kombu's: `<queue>\x06\x16<priority>`
    names = set(queues)
    patterns = [(queue, f"{queue}{separator}*", f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}") for queue in queues]
    keys = {key for queue_patterns in patterns for pattern in queue_patterns for key in client.scan_iter(match=pattern)}
    tags = []
    for tag, raw in client.hscan_iter("unacked"):
        try:
            _, exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if exchange in names or routing_key in names:
            tags.append(tag)
    return keys, tags


def broker_forget(url: str, queues: list[str]) -> int:
    """Delete from the broker's Redis database what a test's Celery run made for its own `queues`, and nothing else.

    An unacked message left by a killed worker would, an hour later (kombu's visibility timeout), be put back by any
    worker on that database into a queue nobody consumes. Other runs share the database, so this never flushes it:
    it deletes only broker_leftovers(), keys named after these queues and unacked entries routed to them.
    Returns how many it deleted.
    """
    import redis

    keys, tags = broker_leftovers(url, queues)
    pipe = redis.Redis.from_url(url).pipeline()
    if keys:
        pipe.delete(*keys)
    if tags:
        pipe.hdel("unacked", *tags)
        pipe.zrem("unacked_index", *tags)
    pipe.execute()
    return len(keys) + len(tags)
