from django.urls import path

from . import api

urlpatterns = [
    path("kyc", api.KycStatusApi.as_view(), name="kyc-status"),
    path("kyc/documents", api.KycDocumentUploadApi.as_view(), name="kyc-document-upload"),
    path("kyc/submit", api.KycSubmitApi.as_view(), name="kyc-submit"),
]
