"""The player KYC API as API.md fixes it: paths, fields, status codes, error codes."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

from apps.kyc.models import KycCase, KycDocument
from conftest import client_for

from .samples import EXE_BYTES, GIF_BYTES, JPEG_BYTES, PDF_BYTES, PNG_BYTES, TEXT_BYTES, a_file, stored_files, valid_until

KYC, DOCUMENTS, SUBMIT = "/api/v1/kyc", "/api/v1/kyc/documents", "/api/v1/kyc/submit"


def post_document(client, *, kind="passport", data=PDF_BYTES, name="passport.pdf", content_type="application/pdf", **extra):
    body = {"kind": kind, "file": a_file(data, name, content_type), **extra}
    return client.post(DOCUMENTS, body, format="multipart")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


@pytest.mark.django_db
def test_status_without_a_case(player_client):
    response = player_client.get(KYC)
    assert response.status_code == 200
    assert response.json() == {"status": "none", "documents": [], "reviewer_note": ""}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), [("get", KYC), ("post", DOCUMENTS), ("post", SUBMIT)])
def test_anonymous_is_401(method, url):
    response = getattr(APIClient(), method)(url)
    assert_error(response, 401, "not_authenticated")


@pytest.mark.django_db
def test_upload_returns_201_with_the_document(player_client):
    expiry = valid_until()
    response = post_document(player_client, data=PNG_BYTES, name="passport.pdf", expires_on=expiry.isoformat())
    assert response.status_code == 201, response.content
    body = response.json()
    document = KycDocument.objects.get()
    assert body == {
        "id": str(document.public_id),
        "kind": "passport",
        "content_type": "image/png",
        "size": len(PNG_BYTES),
        "sha256": hashlib.sha256(PNG_BYTES).hexdigest(),
        "uploaded_at": body["uploaded_at"],
        "expires_on": expiry.isoformat(),
        "status": "pending",
    }
    assert body["uploaded_at"]
    assert document.case.player == player_client.player


@pytest.mark.django_db
def test_upload_without_expiry_and_with_blank_expiry(player_client):
    assert post_document(player_client, kind="proof_of_address", data=JPEG_BYTES, name="bill.jpg").json()["expires_on"] is None
    assert post_document(player_client, kind="source_of_funds", expires_on="").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "declared"),
    [
        (TEXT_BYTES, "passport.pdf", "application/pdf"),
        (EXE_BYTES, "passport.exe", "application/octet-stream"),
        (EXE_BYTES, "passport.pdf", "application/pdf"),
        (GIF_BYTES, "passport.gif", "image/gif"),
    ],
)
def test_upload_refuses_wrong_content_with_400(data, name, declared, player_client, private_media):
    error = assert_error(post_document(player_client, data=data, name=name, content_type=declared), 400, "validation_error")
    assert "file" in error["details"]
    assert stored_files(private_media) == []


@pytest.mark.django_db
def test_upload_over_the_limit_is_400(player_client, settings):
    settings.KYC_MAX_UPLOAD_BYTES = 2048
    error = assert_error(post_document(player_client, data=PDF_BYTES + b"0" * 2048), 400, "validation_error")
    assert "file" in error["details"]
    assert not KycDocument.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "passport"}, "file"),
        ({"file": "file"}, "kind"),
        ({"kind": "selfie", "file": "file"}, "kind"),
        ({"kind": "passport", "file": "not-a-file"}, "file"),
        ({"kind": "passport", "file": "file", "expires_on": "31/12/2030"}, "expires_on"),
        ({"kind": "proof_of_address", "file": "file", "expires_on": "2099-01-01"}, "expires_on"),
        ({"kind": "passport", "file": "file", "expires_on": "2001-01-01"}, "expires_on"),
    ],
)
def test_upload_with_missing_or_bad_fields_is_400(body, field, player_client):
    body = {k: (a_file() if v == "file" else v) for k, v in body.items()}
    error = assert_error(player_client.post(DOCUMENTS, body, format="multipart"), 400, "validation_error")
    assert field in error["details"]


@pytest.mark.django_db
def test_upload_as_json_is_400_not_415(player_client):
    response = player_client.post(DOCUMENTS, {"kind": "passport", "file": "JVBERi0xLjQK"}, format="json")
    assert "file" in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.django_db
def test_submit_flow_and_409s(player_client, staff_user):
    from apps.kyc.services import kyc_start_review

    assert_error(player_client.post(SUBMIT), 409, "invalid_state")  # nothing uploaded
    assert post_document(player_client).status_code == 201
    response = player_client.post(SUBMIT)
    assert response.status_code == 200
    assert response.json() == {"status": "submitted"}
    assert_error(player_client.post(SUBMIT), 409, "invalid_state")  # already submitted
    kyc_start_review(case=KycCase.objects.get(player=player_client.player), officer=staff_user("compliance"))
    assert_error(player_client.post(SUBMIT), 409, "invalid_state")  # under review
    assert_error(post_document(player_client, data=PNG_BYTES), 409, "invalid_state")
    assert player_client.get(KYC).json()["status"] == "in_review"


@pytest.mark.django_db
def test_status_shows_documents_and_the_officers_note(player_client, case_in):
    case_in(player_client.player, "more_info_required")
    body = player_client.get(KYC).json()
    assert body["status"] == "more_info_required"
    assert body["reviewer_note"] == "Please add a proof of address."
    assert [d["kind"] for d in body["documents"]] == ["passport"]
    # No path, URL or name that could reach the stored file.
    assert set(body["documents"][0]) == {"id", "kind", "content_type", "size", "sha256", "uploaded_at", "expires_on", "status"}


@pytest.mark.django_db
def test_a_player_sees_only_their_own_case(make_player, case_in):
    alice, bob = make_player(), make_player()
    case_in(alice, "rejected")
    bob_client = client_for(bob)
    assert bob_client.get(KYC).json() == {"status": "none", "documents": [], "reviewer_note": ""}
    assert_error(bob_client.post(SUBMIT), 409, "invalid_state")
    assert post_document(bob_client).status_code == 201
    assert KycCase.objects.get(player=alice).documents.count() == 1
    assert KycCase.objects.get(player=bob).documents.count() == 1
    assert len(client_for(alice).get(KYC).json()["documents"]) == 1


@pytest.mark.django_db
def test_staff_without_player_profile_gets_403(staff_user):
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(staff_user('compliance')).access_token}")
    assert_error(client.get(KYC), 403, "permission_denied")


@pytest.mark.django_db
def test_stored_file_has_no_public_url(player_client, client):
    post_document(player_client)
    name = KycDocument.objects.get().file.name
    for url in (f"/{name}", f"/media/{name}", f"/private_media/{name}"):
        assert client.get(url).status_code == 404


def test_openapi_schema_describes_the_kyc_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=[path("api/v1/", include("apps.kyc.urls"))]).get_schema(request=None, public=True)
    paths = schema["paths"]
    assert set(paths) == {KYC, DOCUMENTS, SUBMIT}
    upload = paths[DOCUMENTS]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    upload_input = schema["components"]["schemas"]["KycDocumentUploadInput"]
    assert upload_input["properties"]["file"]["format"] == "binary"
    assert set(upload_input["required"]) == {"kind", "file"}
    assert {"201", "400", "409"} <= set(upload["responses"])
    assert "200" in paths[KYC]["get"]["responses"]
    assert "409" in paths[SUBMIT]["post"]["responses"]


@pytest.mark.django_db
def test_me_shows_every_kyc_state_the_kyc_app_owns_expired_included(player_client, case_in, officer):
    """/me's kyc_status comes from the kyc app (core.player_facts), not from a hand copy in players that missed `expired`."""
    from drf_spectacular.generators import SchemaGenerator

    case_in(player_client.player, "expired", officer=officer)
    assert player_client.get("/api/v1/me").json()["kyc_status"] == "expired"
    schema = SchemaGenerator().get_schema(request=None, public=True)
    field = schema["components"]["schemas"]["Player"]["properties"]["kyc_status"]
    ref = field.get("allOf", [field])[0].get("$ref", "")
    enum = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["enum"] if ref else field["enum"]
    assert set(enum) == {"none", "submitted", "in_review", "approved", "rejected", "more_info_required", "expired"}
