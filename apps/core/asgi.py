"""Django's sync views under an ASGI server, on a fixed set of threads per process.

Django's ASGI handler runs each request's sync code (middleware, views, the ORM) in a thread of its own,
started and joined per request (asgiref's ThreadSensitiveContext). Every such thread opens its own
PostgreSQL connection and its own Redis connection (both are per thread), so under load a process
opened connections without bound or paid for a new one per request (README, "Web servers": 122 req/s
on GET /wallet, "too many clients" from PostgreSQL). BoundedThreads hands each HTTP request one of
`threads` long-lived single-thread executors instead (asgiref's caller-owned executor context): the
threads and their persistent connections are reused, a process holds at most `threads` database
connections, and a request beyond that waits for a free thread on the event loop, where WebSockets
(Channels consumers) keep being served. Other scopes (websocket, lifespan) pass through untouched.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext


class BoundedThreads:
    def __init__(self, app, *, threads: int):
        if threads < 1:
            raise ValueError("At least one thread.")
        self.app = app
        self.threads = threads
        self._free: asyncio.Queue[ThreadPoolExecutor] | None = None

    def _executors(self) -> asyncio.Queue[ThreadPoolExecutor]:
        # Created on first use, inside the server's event loop.
        if self._free is None:
            self._free = asyncio.Queue()
            for n in range(self.threads):
                self._free.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-http-{n}"))
        return self._free

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        free = self._executors()
        executor = await free.get()
        try:
            # Django's own ThreadSensitiveContext sees this one and uses it: all of the request's sync code runs on
            # this executor's one thread, whose DB connection persists between requests (CONN_MAX_AGE).
            async with ThreadSensitiveContext(executor=executor):
                return await self.app(scope, receive, send)
        finally:
            free.put_nowait(executor)
