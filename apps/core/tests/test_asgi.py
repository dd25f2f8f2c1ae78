"""apps.core.asgi.BoundedThreads: HTTP requests' sync code runs on a fixed set of reused threads."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async

from apps.core.asgi import BoundedThreads


def _app(seen: list[str], running: list[int], peak: list[int]):
    """Stands for Django's ASGI handler: enters its own ThreadSensitiveContext and runs sync code thread-sensitively."""
    lock = threading.Lock()

    def view() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        seen.append(threading.current_thread().name)
        threading.Event().wait(0.01)  # a query's worth of waiting, so requests overlap
        with lock:
            running[0] -= 1

    async def app(scope, receive, send):
        async with ThreadSensitiveContext():
            await sync_to_async(view, thread_sensitive=True)()

    return app


def test_requests_share_a_fixed_set_of_threads_and_never_exceed_it():
    seen: list[str] = []
    running, peak = [0], [0]
    bounded = BoundedThreads(_app(seen, running, peak), threads=3)

    async def burst():
        await asyncio.gather(*(bounded({"type": "http"}, None, None) for _ in range(30)))
        await asyncio.gather(*(bounded({"type": "http"}, None, None) for _ in range(30)))

    asyncio.run(burst())
    assert len(seen) == 60
    # Three threads served all 60 requests (Django alone would start one per request), never more than three at once.
    assert len(set(seen)) == 3 and all(name.startswith("django-http-") for name in seen)
    assert peak[0] <= 3


def test_other_scopes_pass_through_untouched():
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    asyncio.run(BoundedThreads(app, threads=1)({"type": "websocket"}, None, None))
    assert calls == ["websocket"]
    with pytest.raises(ValueError):
        BoundedThreads(app, threads=0)
