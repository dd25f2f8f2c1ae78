"""Bench players are verified players: their KYC approved through the real kyc services.

Why: a whole round takes the one-call path (migration games 0005) only for a KYC-approved player, and an
unverified one is refused once deposits, stakes and winnings pass the due-diligence threshold (EU AMLD
art. 11(d); apps.limits.services.play). Players who stake this much are verified in real life too.
"""

from __future__ import annotations

from datetime import timedelta

BENCH_OFFICER = "bench-officer@casino.test"


def bench_officer():
    """The compliance officer who approves the bench players (a superuser of the bench database only)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    officer = user_model.objects.filter(email=BENCH_OFFICER).first()
    return officer or user_model.objects.create_superuser(email=BENCH_OFFICER, password="Bench-officer-passphrase-42")


def approve_kyc(player, officer) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.backoffice.demo_documents import specimen_passport_pdf
    from apps.core import clock
    from apps.kyc import services as kyc

    expires = clock.now().date() + timedelta(days=3650)
    pdf = specimen_passport_pdf(
        surname=player.user.last_name or "Bench", given_names=player.user.first_name or "Player", nationality=player.country,
        born=player.date_of_birth, number=f"BENCH{player.pk:07d}", expires=expires,
    )
    kyc.kyc_document_upload(player=player, kind="passport", uploaded_file=SimpleUploadedFile("passport.pdf", pdf, "application/pdf"),
                            expires_on=expires)
    case = kyc.kyc_submit(player=player)
    case = kyc.kyc_start_review(case=case, officer=officer)
    kyc.kyc_approve(case=case, officer=officer, note="Bench player", id_document_number=f"BENCH{player.pk:07d}")
