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
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import set_script_prefix, set_urlconf
from django.utils.log import log_response


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain built as under WSGI, and a request's sync work in one hop.

    Django's handle() hops to a thread and back three times per request: for request_started's sync receivers
    (close_old_connections), for the view, and for response.close() (request_finished), and races the view
    against a disconnect listener task it then cancels. Measured in-process (config.asgi, GET /healthz/live,
    production settings): 1.9 ms of CPU per request against 0.4 ms for the same request through Django's
    test client. Here the signals, the request object, the middleware chain and the view run in one hop, as
    under WSGI; the response is sent from the event loop, and a streaming one is closed after it is sent.
    The sync views run to completion whether or not the client is still there, as Django's own handler
    lets them (a thread cannot be cancelled).
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._sync_chain = self._middleware_chain
        self._middleware_chain = sync_to_async(self._sync_chain, thread_sensitive=True)
        self._api = _CookielessApiChain() if settings.API_MIDDLEWARE != settings.MIDDLEWARE else None

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await _in_request_thread(self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while we sent
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """In the request's thread: what BaseHandler.get_response does under WSGI, between the two signals."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            set_urlconf(settings.ROOT_URLCONF)
            chain = self._api.chain if self._api is not None and _cookieless_api(scope) else self._sync_chain
            response = chain(request)
            response._resource_closers.append(request.close)
            response._handler_class = self.__class__
            if response.status_code >= 400:
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        if not response.streaming:
            response.close()  # request_finished, here in the request's thread; the content is already in memory
        return response


def _cookieless_api(scope) -> bool:
    return scope["path"].startswith(API_PREFIX) and not any(name == b"cookie" for name, _ in scope["headers"])


API_PREFIX = "/api/v1/"


class _CookielessApiChain(BaseHandler):
    """The middleware chain of an API request that carries no cookie: settings.API_MIDDLEWARE, a subset of MIDDLEWARE.

    The API authenticates by JWT only (REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES), and its views are
    csrf-exempt. Without a cookie there is no session, so the session, CSRF, authentication, django-otp, staff
    two-factor and messages middleware find nothing to do, yet cost about a twelfth of a round request's CPU
    (issue #13, bench/profiles). A request with any cookie (a browser with an admin session using the
    Swagger UI) takes the full chain. A test sends the same requests through both chains and compares the answers.
    """

    def __init__(self) -> None:
        super().__init__()
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; this runs once, at start-up, before any request.
        wrapped = settings._wrapped
        full = wrapped.MIDDLEWARE
        wrapped.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            self.load_middleware(is_async=False)
        finally:
            wrapped.MIDDLEWARE = full
        self.chain = self._middleware_chain


# The executor BoundedThreads gave this request (unset outside it, e.g. a handler driven on its own in a test).
_request_executor: contextvars.ContextVar[ThreadPoolExecutor | None] = contextvars.ContextVar("request_executor", default=None)


async def _in_request_thread(func, *args):
    """func(*args) on the request's thread, in a copy of this context: sync_to_async's one job here, lighter.

    sync_to_async also copies every context variable's change back into the caller's context afterwards
    (re-homing each asgiref Local), about 0.8 ms of CPU a request (py-spy, README "Web servers"); nothing
    the event loop does after the view needs them. What the thread needs from asgiref is kept: the main
    loop for async_to_sync (the channel layer's sends from a view run on this loop, as before).
    """
    executor = _request_executor.get()
    if executor is None:
        return await sync_to_async(func, thread_sensitive=True)(*args)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()

    def run():
        SyncToAsync.threadlocal.main_event_loop = loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        return context.run(func, *args)

    return await loop.run_in_executor(executor, run)


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
            token = _request_executor.set(executor)
            try:
                async with ThreadSensitiveContext(executor=executor):
                    return await self.app(scope, receive, send)
            finally:
                _request_executor.reset(token)
        finally:
            free.put_nowait(executor)
