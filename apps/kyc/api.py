"""Player KYC endpoints (API.md, KYC). A player only ever reaches their own case; files are never served back."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.players.selectors import player_required

from .models import DocumentContentType, DocumentKind, DocumentStatus, KycState
from .selectors import kyc_case_for_player, kyc_case_status, kyc_documents
from .services import kyc_document_upload, kyc_submit


def _player(request):
    return player_required(request.user, what="a KYC case")


@extend_schema_field(OpenApiTypes.BINARY)
class UploadedFileField(serializers.FileField):
    """A file part of a multipart body; described as binary so generated clients send bytes, not a URL."""


class KycDocumentOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    content_type = serializers.ChoiceField(choices=DocumentContentType.choices)
    size = serializers.IntegerField(help_text="Bytes.")
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    expires_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=DocumentStatus.choices, help_text="The officer's verdict on this document.")


class KycOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=KycState.choices)
    documents = KycDocumentOut(many=True)
    reviewer_note = serializers.CharField(allow_blank=True, help_text="The compliance officer's message about the latest decision.")


class KycSubmitOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=KycState.choices)


_ERROR_400 = OpenApiResponse(
    description="validation_error: missing or invalid kind/file/expires_on, not a PDF/JPEG/PNG by content, or too large."
)
_ERROR_403 = OpenApiResponse(description="account_blocked (closed account) or permission_denied (not a player account).")
_ERROR_409 = OpenApiResponse(description="invalid_state: the case is in review or approved, or there is nothing new to submit.")


class KycStatusApi(APIView):
    @extend_schema(tags=["kyc"], operation_id="kyc_status", responses={200: KycOut})
    def get(self, request):
        case = kyc_case_for_player(player=_player(request))
        body = {
            "status": kyc_case_status(case=case),
            "documents": kyc_documents(case=case),
            "reviewer_note": case.reviewer_note if case is not None else "",
        }
        return Response(KycOut(body).data)


class KycDocumentUploadApi(APIView):
    # JSON stays accepted only so a JSON body gets API.md's 400 validation_error ("not a file") instead of a 415.
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema_serializer(component_name="KycDocumentUploadInput")
    class Input(serializers.Serializer):
        kind = serializers.ChoiceField(choices=DocumentKind.choices)
        file = UploadedFileField(help_text="PDF, JPEG or PNG (judged by content, not name), at most 10 MB.")
        expires_on = serializers.DateField(
            required=False, allow_null=True, help_text="Expiry date printed on a passport, identity card or driving licence."
        )

    @extend_schema(
        tags=["kyc"],
        operation_id="kyc_document_upload",
        request={"multipart/form-data": Input},
        responses={201: KycDocumentOut, 400: _ERROR_400, 403: _ERROR_403, 409: _ERROR_409},
    )
    def post(self, request):
        player = _player(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        document = kyc_document_upload(
            player=player,
            kind=data.validated_data["kind"],
            uploaded_file=data.validated_data["file"],
            expires_on=data.validated_data.get("expires_on"),
        )
        return Response(KycDocumentOut(document).data, status=201)


class KycSubmitApi(APIView):
    @extend_schema(tags=["kyc"], operation_id="kyc_submit", request=None, responses={200: KycSubmitOut, 403: _ERROR_403, 409: _ERROR_409})
    def post(self, request):
        case = kyc_submit(player=_player(request))
        return Response(KycSubmitOut({"status": case.state}).data)
