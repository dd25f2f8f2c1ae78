"""Per-process batching of after-commit work that need not hold up the request that committed.

Two things follow every committed posting and neither is part of the answer to the player: AML's
near-real-time evaluation (a Celery task) and the balance push to the player's open sockets (a Redis
read to learn whether anyone listens, then a send). Done in the request's own thread, each is a round
trip and a client library's per-call work, for every posting: on a round request the two cost more CPU
than the round's database call (issue #13, bench/profiles). A Batcher collects the items committed in
this process and hands them, `window` seconds after the first, to `send` from one background thread, so
one Celery message or one Redis pipeline carries every posting of the window.

What a process has collected and not yet sent when it dies is lost to this path only: both users have a
guarantee behind them (the AML sweep re-reads the ledger's log; a socket reads the balance when it
connects, and the next posting pushes again). A window of 0 sends each item at once, in the calling
thread: the suite's default, so assertions need not wait for a thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


class Batcher(Generic[Item]):
    MAX_ITEMS = 500  # per send: one task or one pipeline stays short enough to retry or lose cheaply

    def __init__(self, send: Callable[[list[Item]], None], window: float, *, name: str = "batcher") -> None:
        self._send = send
        self.window = window
        self.name = name
        self._items: list[Item] = []
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._pid: int | None = None

    def add(self, item: Item) -> None:
        if self.window <= 0:
            self._send([item])
            return
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (a forked web worker starts without the thread)
                self._pid = os.getpid()
                self._items = []
                threading.Thread(target=self._run, name=self.name, daemon=True).start()
            self._items.append(item)
        self._due.set()

    def flush(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._due.clear()
        for start in range(0, len(items), self.MAX_ITEMS):
            self._send(items[start : start + self.MAX_ITEMS])

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self.window)  # let the window fill: one send for every item committed meanwhile
            try:
                self.flush()
            except Exception:  # never let the thread die: the next window tries again; the users' guarantees cover the gap
                logger.exception("%s: could not send a batch", self.name)
