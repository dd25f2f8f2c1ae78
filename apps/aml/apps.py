from __future__ import annotations

import logging
import time
from functools import partial

from django.apps import AppConfig
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


# After a failed send, skip sending for this long: each attempt against a dead broker stalls the
# request that posted (redis-py retries for seconds), and the sweep does the work anyway.
BROKER_BACKOFF_SECONDS = 30.0
_skip_until = 0.0


def enqueue(task, *args) -> None:
    """Send a task now; if the broker is down, log and carry on: the scheduled sweep reads the ledger's
    log from its watermark and finds the same work (ARCHITECTURE.md, "Events leave through the ledger's own log")."""
    global _skip_until
    if time.monotonic() < _skip_until:
        logger.info("aml: broker recently unreachable; %s%s left to the sweep", task.name, args)
        return
    try:
        task.apply_async(args=args, retry=False)
    except Exception:
        _skip_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("aml: could not enqueue %s%s; the sweep will pick it up", task.name, args, exc_info=True)


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

        def posted(sender, transaction_id, **kwargs) -> None:
            # Sent by the ledger after commit already: enqueue straight away.
            if settings.AML_REALTIME_EVALUATION:
                enqueue(tasks.evaluate_transaction, transaction_id)

        def player_saved(sender, instance, created, raw=False, **kwargs) -> None:
            if created and not raw:  # screening at registration
                transaction.on_commit(partial(enqueue, tasks.screen_player, instance.pk))

        def kyc_saved(sender, instance, raw=False, **kwargs) -> None:
            if instance.state == KycState.APPROVED and not raw:  # screening at KYC approval, with the verified identity
                transaction.on_commit(partial(enqueue, tasks.screen_player, instance.player_id))

        transaction_posted.connect(posted, dispatch_uid="aml.evaluate_transaction", weak=False)
        post_save.connect(player_saved, sender=Player, dispatch_uid="aml.screen_at_registration", weak=False)
        post_save.connect(kyc_saved, sender=KycCase, dispatch_uid="aml.screen_at_kyc_approval", weak=False)
