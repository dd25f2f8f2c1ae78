"""Upload validation: the bytes decide the type, the size is bounded, the hash and the storage are right."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from apps.core import clock
from apps.core.errors import InvalidState, ValidationFailed
from apps.kyc.models import KycCase
from apps.kyc.services import kyc_document_upload, sanitize_original_name

from .samples import EXE_BYTES, GIF_BYTES, HTML_BYTES, JPEG_BYTES, PDF_BYTES, PNG_BYTES, TEXT_BYTES, a_file, stored_files


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "expected", "extension"),
    [(PDF_BYTES, "application/pdf", ".pdf"), (JPEG_BYTES, "image/jpeg", ".jpg"), (PNG_BYTES, "image/png", ".png")],
)
def test_pdf_jpeg_png_are_accepted_and_stored_privately(data, expected, extension, player, upload, private_media):
    document = upload(player, data=data, name="My Passport (scan).bin", content_type="application/octet-stream")
    assert document.content_type == expected
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.original_name == "My Passport (scan).bin"
    # A random name with the sniffed extension; nothing of the player's file name reaches the disk.
    assert document.file.name.startswith("kyc/")
    assert document.file.name.endswith(extension)
    assert "Passport" not in document.file.name
    [path] = stored_files(private_media)
    assert path.read_bytes() == data
    assert str(path).endswith(document.file.name)


@pytest.mark.django_db
def test_png_named_pdf_is_stored_as_png(player, upload):
    document = upload(player, data=PNG_BYTES, name="passport.pdf", content_type="application/pdf")
    assert document.content_type == "image/png"
    assert document.file.name.endswith(".png")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "declared"),
    [
        (TEXT_BYTES, "passport.pdf", "application/pdf"),
        (HTML_BYTES, "passport.png", "image/png"),
        (EXE_BYTES, "passport.jpg", "image/jpeg"),
        (GIF_BYTES, "passport.gif", "image/gif"),
        (GIF_BYTES, "passport.png", "image/png"),
        (b"%PD", "tiny.pdf", "application/pdf"),
    ],
)
def test_anything_but_pdf_jpeg_png_by_content_is_refused(data, name, declared, player, private_media):
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(data, name, declared))
    assert "file" in raised.value.details
    assert stored_files(private_media) == []
    assert not KycCase.objects.filter(player=player).exists()


@pytest.mark.django_db
def test_empty_file_is_refused(player):
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(b"", "empty.pdf"))
    assert raised.value.details["file"] == ["The file is empty."]


@pytest.mark.django_db
def test_size_limit_is_inclusive(player, settings, private_media):
    settings.KYC_MAX_UPLOAD_BYTES = 1024
    exactly = PDF_BYTES + b"%" * (1024 - len(PDF_BYTES))
    too_big = exactly + b"%"
    document = kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(exactly))
    assert document.size == 1024
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(too_big))
    assert "1024 bytes" in raised.value.details["file"][0]
    assert len(stored_files(private_media)) == 1


@pytest.mark.django_db
def test_default_limit_is_ten_megabytes(settings):
    assert settings.KYC_MAX_UPLOAD_BYTES == 10 * 1024 * 1024


@pytest.mark.django_db
def test_sha256_is_over_the_whole_file_not_just_the_sniffed_head(player):
    big = PDF_BYTES + bytes(range(256)) * 200  # > 8 KiB, several chunks of the hash loop
    document = kyc_document_upload(player=player, kind="source_of_funds", uploaded_file=a_file(big))
    assert document.sha256 == hashlib.sha256(big).hexdigest()
    assert document.file.open("rb").read() == big


@pytest.mark.django_db
def test_expiry_date_rules(player):
    today = clock.now().date()
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="proof_of_address", uploaded_file=a_file(), expires_on=today + timedelta(days=30))
    assert "expires_on" in raised.value.details
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="passport", uploaded_file=a_file(), expires_on=today)
    assert "expires_on" in raised.value.details
    document = kyc_document_upload(player=player, kind="id_card", uploaded_file=a_file(), expires_on=today + timedelta(days=1))
    assert document.expires_on == today + timedelta(days=1)


@pytest.mark.django_db
def test_unknown_kind_is_refused(player):
    with pytest.raises(ValidationFailed) as raised:
        kyc_document_upload(player=player, kind="selfie", uploaded_file=a_file())
    assert "kind" in raised.value.details


@pytest.mark.django_db
def test_refused_upload_in_wrong_state_leaves_no_file_behind(player, case_in, upload, private_media):
    case_in(player, "in_review")
    before = len(stored_files(private_media))
    with pytest.raises(InvalidState):
        upload(player, data=PNG_BYTES)
    assert len(stored_files(private_media)) == before


@pytest.mark.django_db
def test_upload_is_recorded_in_document_history(player, upload):
    document = upload(player)
    row = document.history.get()
    assert row.history_user == player.user
    assert row.history_change_reason == "Uploaded by the player"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("passport.pdf", "passport.pdf"),
        ("../../etc/passwd\x00.pdf", "passwd.pdf"),
        ("C:\\Users\\ada\\scan 1.png", "scan 1.png"),
        ("bad\r\nname.jpg", "badname.jpg"),
        ("", "document"),
        ("/", "document"),
        ("x" * 400 + ".pdf", "x" * 200),
    ],
)
def test_original_name_is_sanitised_for_display(raw, clean):
    assert sanitize_original_name(raw) == clean


@pytest.mark.django_db
def test_a_player_may_store_at_most_kyc_max_documents(player, upload, settings, private_media):
    settings.KYC_MAX_DOCUMENTS = 3
    for _ in range(3):
        upload(player, kind="proof_of_address", data=PNG_BYTES)
    with pytest.raises(ValidationFailed) as refused:
        upload(player, kind="proof_of_address", data=PNG_BYTES)
    assert "At most 3 documents" in refused.value.details["file"][0]
    assert KycCase.objects.get(player=player).documents.count() == 3
    assert len(stored_files(private_media)) == 3  # the refused file was not kept


@pytest.mark.django_db
def test_a_player_may_store_at_most_kyc_max_total_bytes(player, upload, settings):
    settings.KYC_MAX_TOTAL_BYTES = 2 * len(PNG_BYTES)
    upload(player, kind="proof_of_address", data=PNG_BYTES)
    upload(player, kind="proof_of_address", data=PNG_BYTES)  # exactly at the cap
    with pytest.raises(ValidationFailed) as refused:
        upload(player, kind="proof_of_address", data=PNG_BYTES)
    assert "of documents per player" in refused.value.details["file"][0]


@pytest.mark.django_db
def test_the_quota_is_per_player(make_player, upload, settings):
    settings.KYC_MAX_DOCUMENTS = 1
    first, second = make_player(), make_player()
    upload(first, kind="proof_of_address", data=PNG_BYTES)
    upload(second, kind="proof_of_address", data=PNG_BYTES)
    with pytest.raises(ValidationFailed):
        upload(first, kind="proof_of_address", data=PNG_BYTES)


def test_the_quota_defaults_are_twenty_documents_and_fifty_megabytes(settings):
    assert (settings.KYC_MAX_DOCUMENTS, settings.KYC_MAX_TOTAL_BYTES) == (20, 50 * 1024 * 1024)
