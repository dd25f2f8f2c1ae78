"""Races that really happen: two officers on one case, a double-clicked submit, two first uploads at once."""

from __future__ import annotations

import pytest

from apps.core.errors import DomainError, InvalidState
from apps.core.testing import run_calls_together
from apps.kyc import services
from apps.kyc.models import KycCase, KycDocument

from .samples import JPEG_BYTES, PNG_BYTES, a_file


def race(*calls):
    """Run the calls at the same moment in real threads; a refusal is an outcome, any other error fails the test."""
    results = run_calls_together(*calls)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError | AssertionError)]
    assert not unexpected, unexpected
    return results


@pytest.mark.django_db(transaction=True)
def test_two_officers_decide_one_case_only_one_wins(player, case_in, staff_user):
    case = case_in(player, "in_review")
    first, second = staff_user("compliance"), staff_user("compliance")
    results = race(
        lambda: services.kyc_approve(case=case, officer=first, note=""),
        lambda: services.kyc_reject(case=case, officer=second, note="Forged."),
    )
    winners = [r for r in results if isinstance(r, KycCase)]
    losers = [r for r in results if isinstance(r, InvalidState)]
    assert len(winners) == 1
    assert len(losers) == 1
    final = KycCase.objects.get(pk=case.pk)
    assert final.state == winners[0].state
    decisions = KycCase.history.filter(id=case.pk, state__in=["approved", "rejected"])
    assert decisions.count() == 1


@pytest.mark.django_db(transaction=True)
def test_double_submit_submits_once(player, upload):
    upload(player)
    results = race(lambda: services.kyc_submit(player=player), lambda: services.kyc_submit(player=player))
    assert sorted(type(r).__name__ for r in results) == ["InvalidState", "KycCase"]
    assert KycCase.history.filter(player_id=player.pk, state="submitted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_first_uploads_open_one_case(player):
    results = race(
        lambda: services.kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(PNG_BYTES, "a.png")),
        lambda: services.kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(JPEG_BYTES, "b.jpg")),
    )
    assert all(isinstance(r, KycDocument) for r in results), results
    assert KycCase.objects.filter(player=player).count() == 1
    assert KycDocument.objects.filter(case__player=player).count() == 2


@pytest.mark.django_db(transaction=True)
def test_upload_racing_start_review_is_either_before_or_refused(player, case_in, staff_user, upload):
    case = case_in(player, "submitted")
    officer = staff_user("compliance")
    results = race(
        lambda: services.kyc_start_review(case=case, officer=officer),
        lambda: services.kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(JPEG_BYTES, "b.jpg")),
    )
    assert isinstance(results[0], KycCase)
    documents = KycDocument.objects.filter(case=case)
    if isinstance(results[1], KycDocument):
        # It got in before the review started, so it is part of what the officer reviews.
        assert documents.count() == 2
        assert not documents.filter(submitted_at__isnull=True).exists()
    else:
        assert isinstance(results[1], InvalidState)
        assert documents.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_cannot_jointly_pass_the_document_quota(player, settings):
    from apps.core.errors import ValidationFailed

    settings.KYC_MAX_DOCUMENTS = 2
    services.kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(PNG_BYTES, "a.png"))
    results = race(
        *[
            (lambda: services.kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(PNG_BYTES, "b.png")))
            for _ in range(3)
        ]
    )
    assert sorted(type(r).__name__ for r in results) == ["KycDocument", "ValidationFailed", "ValidationFailed"]
    assert all(isinstance(r, ValidationFailed) for r in results if not isinstance(r, KycDocument))
    assert KycDocument.objects.filter(case__player=player).count() == 2
