from __future__ import annotations

import atexit
import logging
import time
from functools import partial

from django.apps import AppConfig
from django.conf import settings
from django.db import transaction

from apps.core.batching import Batcher

logger = logging.getLogger(__name__)


# After a failed send, skip sending for this long: each attempt against a dead broker stalls the
# request that posted (redis-py retries for seconds), and the sweep does the work anyway.
BROKER_BACKOFF_SECONDS = 30.0
_skip_until = 0.0


def enqueue(task, *args, argsrepr: str | None = None) -> None:
    """Send a task now; if the broker is down, log and carry on: the scheduled sweep reads the ledger's
    log from its watermark and finds the same work (ARCHITECTURE.md, "Events leave through the ledger's own log")."""
    global _skip_until
    if time.monotonic() < _skip_until:
        logger.info("aml: broker recently unreachable; %s%s left to the sweep", task.name, args)
        return
    try:
        task.apply_async(args=args, retry=False, argsrepr=argsrepr)
    except Exception:
        _skip_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("aml: could not enqueue %s%s; the sweep will pick it up", task.name, args, exc_info=True)


class PostingBatcher(Batcher[int]):
    """Collects the ids of committed postings and sends them as one evaluation task per window (apps.core.batching).

    Sending a Celery task costs the posting process about 0.8 ms of CPU (bench/profiles): on a round with a
    win that was a fifth of the web server's work for the request. The evaluation is idempotent and the sweep
    re-reads every posting anyway, so the ids of the postings committed in this process within
    AML_REALTIME_BATCH_SECONDS go out together from a background thread, off the request: alerts still come
    within a fraction of a second (near-real time, issue #9), and a process that dies with ids not yet sent
    loses nothing the sweep will not find.
    """

    MAX_IDS = Batcher.MAX_ITEMS

    def __init__(self, send, window: float) -> None:
        super().__init__(send, window, name="aml-posting-batcher")


class AmlConfig(AppConfig):
    name = "apps.aml"
    label = "aml"
    verbose_name = "AML monitoring"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from apps.core.holds import register_hold_provider
        from apps.kyc.models import KycCase, KycState
        from apps.ledger.services import transaction_posted
        from apps.players.models import Player

        from . import tasks
        from .selectors import withdrawal_hold_reason

        register_hold_provider("aml", withdrawal_hold_reason)

        def send(transaction_ids: list[int]) -> None:
            # A summary for logs and monitors instead of Celery's repr of up to 500 ids, computed per message.
            enqueue(tasks.evaluate_transactions, transaction_ids,
                    argsrepr=f"[{len(transaction_ids)} postings {transaction_ids[0]}..{transaction_ids[-1]}]")

        # Eager tasks (the embedded demo) run where they are sent: each on its own commit, in the request.
        window = 0.0 if settings.CELERY_TASK_ALWAYS_EAGER else settings.AML_REALTIME_BATCH_SECONDS
        self.batcher = PostingBatcher(send, window)
        atexit.register(self.batcher.flush)

        def posted(sender, transaction_id, **kwargs) -> None:
            # Sent by the ledger after commit already.
            if settings.AML_REALTIME_EVALUATION:
                self.batcher.add(transaction_id)

        def player_saved(sender, instance, created, raw=False, **kwargs) -> None:
            if created and not raw:  # screening at registration
                transaction.on_commit(partial(enqueue, tasks.screen_player, instance.pk))

        def kyc_saved(sender, instance, raw=False, **kwargs) -> None:
            if instance.state == KycState.APPROVED and not raw:  # screening at KYC approval, with the verified identity
                transaction.on_commit(partial(enqueue, tasks.screen_player, instance.player_id))

        transaction_posted.connect(posted, dispatch_uid="aml.evaluate_transaction", weak=False)
        post_save.connect(player_saved, sender=Player, dispatch_uid="aml.screen_at_registration", weak=False)
        post_save.connect(kyc_saved, sender=KycCase, dispatch_uid="aml.screen_at_kyc_approval", weak=False)
