"""KYC test fixtures: real (tiny) PDF/PNG/JPEG bytes, a private storage per test, and cases driven through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .samples import PDF_BYTES, a_file, valid_until


@pytest.fixture(autouse=True)
def _private_media(private_media):
    """Every test stores documents in its own throw-away private directory."""
    return private_media


@pytest.fixture
def officer(staff_user):
    return staff_user("compliance")


@pytest.fixture
def support_user(staff_user):
    return staff_user("support")


@pytest.fixture
def operator_user(staff_user):
    return staff_user("operator")


@pytest.fixture
def upload():
    """Upload through the service: a passport PDF valid for ten years unless told otherwise."""
    from apps.kyc.services import kyc_document_upload

    def do(player, *, kind="passport", data=PDF_BYTES, name="passport.pdf", content_type="application/pdf", expires_on="default"):
        if expires_on == "default":
            expires_on = valid_until() if kind in {"passport", "id_card", "driving_licence"} else None
        return kyc_document_upload(player=player, kind=kind, uploaded_file=a_file(data, name, content_type), expires_on=expires_on)

    return do


@pytest.fixture
def case_in(upload, staff_user):
    """Drive a player's case into any state through the real services; returns the fresh case."""
    from apps.kyc import services
    from apps.kyc.models import KycCase

    def drive(player, state: str, *, officer=None, expires_on="default"):
        officer = officer or staff_user("compliance")
        upload(player, expires_on=expires_on)
        if state != "none":
            services.kyc_submit(player=player)
        case = KycCase.objects.get(player=player)
        if state not in ("none", "submitted"):
            case = services.kyc_start_review(case=case, officer=officer)
        if state in ("approved", "expired"):
            case = services.kyc_approve(case=case, officer=officer, note="")
        elif state == "rejected":
            case = services.kyc_reject(case=case, officer=officer, note="The photo is blurred.")
        elif state == "more_info_required":
            case = services.kyc_request_more_info(case=case, officer=officer, note="Please add a proof of address.")
        if state == "expired":
            assert services.kyc_expire_due(now=case.expires_at + timedelta(seconds=1)) == 1
        case = KycCase.objects.get(pk=case.pk)
        assert case.state == state
        return case

    return drive
