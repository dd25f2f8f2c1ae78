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
