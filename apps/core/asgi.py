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

SyncChainASGIHandler runs the whole middleware chain and the view synchronously in that thread, as under
WSGI. Django's own ASGI handler runs async-capable middleware on the event loop and hops to a thread and
back for each one's process_request/process_response (MiddlewareMixin.__acall__), and once more around
a sync-only one (WhiteNoise): measured 4.05 ms of CPU for a trivial request against 0.23 ms for a bare
ASGI app and 1.41 ms for gunicorn's sync worker (README, "Web servers"). Our views are sync; one hop
per request is all they need.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain built as under WSGI, entered with one sync_to_async hop."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application, with SyncChainASGIHandler."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()


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
