"""The batcher that sends committed postings for near-real-time evaluation (apps.aml.apps.PostingBatcher)."""

from __future__ import annotations

import threading
import time

from django.apps import apps as django_apps

from apps.aml.apps import PostingBatcher


class Sent:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.arrived = threading.Condition()

    def __call__(self, ids: list[int]) -> None:
        with self.arrived:
            self.batches.append(list(ids))
            self.threads.add(threading.current_thread().name)
            self.arrived.notify_all()

    def wait_for(self, count: int, deadline: float = 10.0) -> None:
        end = time.monotonic() + deadline
        with self.arrived:
            while sum(map(len, self.batches)) < count:
                remaining = end - time.monotonic()
                assert remaining > 0, f"{sum(map(len, self.batches))} of {count} ids sent"
                self.arrived.wait(remaining)


def test_postings_committed_within_the_window_go_out_as_one_task_from_the_background_thread():
    sent = Sent()
    batcher = PostingBatcher(sent, window=0.5)
    for transaction_id in (11, 12, 13):
        batcher.add(transaction_id)
    assert sent.batches == []  # nothing on the committing thread: the request does not pay for the send
    sent.wait_for(3)
    assert sent.batches == [[11, 12, 13]]
    assert sent.threads == {"aml-posting-batcher"}
    batcher.add(14)  # a later posting opens the next window
    sent.wait_for(4)
    assert sent.batches == [[11, 12, 13], [14]]


def test_postings_from_many_threads_are_each_sent_exactly_once():
    sent = Sent()
    batcher = PostingBatcher(sent, window=0.05)

    def post(first: int) -> None:
        for transaction_id in range(first, first + 200):
            batcher.add(transaction_id)

    threads = [threading.Thread(target=post, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.wait_for(800)
    everything = [transaction_id for batch in sent.batches for transaction_id in batch]
    assert sorted(everything) == sorted(n * 1000 + i for n in range(4) for i in range(200))
    assert len(sent.batches) < 800  # batched, not one task per posting


def test_a_window_of_zero_sends_each_posting_on_its_commit_in_the_committing_thread():
    sent = Sent()
    batcher = PostingBatcher(sent, window=0)
    batcher.add(7)
    assert sent.batches == [[7]] and sent.threads == {threading.current_thread().name}


def test_flush_sends_what_is_left_in_tasks_of_at_most_max_ids():
    sent = Sent()
    batcher = PostingBatcher(sent, window=60)  # the thread would wait a minute: flush (at exit) does not
    for transaction_id in range(PostingBatcher.MAX_IDS + 3):
        batcher.add(transaction_id)
    batcher.flush()
    assert [len(batch) for batch in sent.batches] == [PostingBatcher.MAX_IDS, 3]
    batcher.flush()
    assert len(sent.batches) == 2  # nothing twice


def test_a_failed_send_does_not_stop_the_thread():
    sent = Sent()
    failures = []

    def send(ids: list[int]) -> None:
        if not failures:
            failures.append(ids)
            raise ConnectionError("broker gone")
        sent(ids)

    batcher = PostingBatcher(send, window=0.05)
    batcher.add(1)
    deadline = time.monotonic() + 10
    while not failures:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    batcher.add(2)
    sent.wait_for(1)
    assert failures == [[1]] and sent.batches == [[2]]  # the lost one is the sweep's (test_celery_worker)


def test_eager_tasks_never_wait_for_a_window():
    # The suite's settings (and the embedded demo) run tasks eagerly: each posting is evaluated on its commit.
    assert django_apps.get_app_config("aml").batcher.window == 0
