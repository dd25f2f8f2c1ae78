"""apps.core.asgi.BoundedThreads: HTTP requests' sync code runs on a fixed set of reused threads."""

from __future__ import annotations

import asyncio
import contextvars
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


def test_the_project_asgi_handler_serves_a_request_through_the_sync_chain():
    """The handler config.asgi uses (no database here): the middleware chain runs as under WSGI, entered with one hop."""
    from apps.core.asgi import SyncChainASGIHandler

    handler = SyncChainASGIHandler()
    assert not asyncio.iscoroutinefunction(handler._middleware_chain.func)  # a sync chain behind one sync_to_async
    sent: list[dict] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/healthz/live", "raw_path": b"/healthz/live", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.sleep(3600)  # the client stays connected; Django cancels its disconnect listener when done

    async def send(message):
        sent.append(message)

    asyncio.run(BoundedThreads(handler, threads=1)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 200 and body == b'{"status": "ok"}'
    assert (b"x-content-type-options", b"nosniff") in [(k.lower(), v) for k, v in start["headers"]]


# --- SyncChainASGIHandler: the request's sync work in one hop ---------------------------------------------------

_seen: dict[str, list] = {}


def _view(request):
    from django.http import HttpResponse

    _seen["view"].append(threading.current_thread().name)
    return HttpResponse(b"hello", content_type="text/plain")


def _streaming(request):
    from django.http import StreamingHttpResponse

    return StreamingHttpResponse(iter([b"one ", b"two ", b"three"]))


def _broken(request):
    raise RuntimeError("a bug")


_probe = contextvars.ContextVar("asgi_test_probe", default="unset")


def _async_from_view(request):
    """What the realtime pushes do from a view: async_to_sync of a coroutine (the channel layer's group_send)."""
    from asgiref.sync import async_to_sync
    from django.http import HttpResponse

    async def where() -> object:
        return asyncio.get_running_loop()

    _seen["loop"].append(async_to_sync(where)())
    _seen["context"].append(_probe.get())
    _probe.set("set in the view")
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = []  # filled below: this module is the test URLconf


def _urls():
    from django.urls import path

    urlpatterns[:] = [path("plain", _view), path("stream", _streaming), path("broken", _broken), path("async", _async_from_view)]


def _call(app, path: str) -> tuple[int, bytes]:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"host", b"testserver")], "http_version": "1.1", "asgi": {"version": "3.0"},
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def handler(settings):
    from django.core import signals

    from apps.core.asgi import SyncChainASGIHandler

    _urls()
    settings.ROOT_URLCONF = __name__
    _seen.clear()
    _seen.update(view=[], started=[], finished=[], loop=[], context=[])

    def started(**kwargs):
        _seen["started"].append(threading.current_thread().name)

    def finished(**kwargs):
        _seen["finished"].append(threading.current_thread().name)

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield BoundedThreads(SyncChainASGIHandler(), threads=1)
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_signals_and_view_run_once_each_in_the_requests_thread(handler):
    assert _call(handler, "/plain") == (200, b"hello")
    assert len(_seen["view"]) == len(_seen["started"]) == len(_seen["finished"]) == 1
    # All three in the one reused thread: one hop per request, as under WSGI.
    assert _seen["view"] == _seen["started"] == _seen["finished"]
    assert _seen["view"][0].startswith("django-http-")


def test_a_streaming_response_is_sent_whole_and_closed_after(handler):
    assert _call(handler, "/stream") == (200, b"one two three")
    assert len(_seen["started"]) == len(_seen["finished"]) == 1


def test_an_error_in_a_view_is_djangos_500(handler, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    status, _ = _call(handler, "/broken")
    assert status == 500
    assert len(_seen["finished"]) == 1


def test_a_view_sees_the_callers_context_and_its_async_calls_run_on_the_servers_loop(handler):
    loops = []

    async def serve_twice():
        loops.append(asyncio.get_running_loop())
        _probe.set("set by the server")
        for _ in range(2):
            scope = {"type": "http", "method": "GET", "path": "/async", "query_string": b"", "root_path": "", "scheme": "http",
                     "headers": [(b"host", b"testserver")], "http_version": "1.1", "asgi": {"version": "3.0"},
                     "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message, sent=sent):
                sent.append(message)

            await handler(scope, receive, send)
            assert sent[0]["status"] == 200
        return _probe.get()

    after = asyncio.run(serve_twice())
    # async_to_sync in the view ran its coroutine on the server's own loop (channels-redis pools are per loop).
    assert _seen["loop"] == [loops[0], loops[0]]
    # The view ran in a copy of the server's context: it saw its values; its own changes stayed in the request.
    assert _seen["context"] == ["set by the server", "set by the server"] and after == "set by the server"
