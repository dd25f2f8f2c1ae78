import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_generates_without_warnings_and_validates():
    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    schema = out.getvalue()
    for path in ("/api/v1/auth/register", "/api/v1/wallet/deposits", "/api/v1/kyc/documents", "/api/v1/responsible-gaming"):
        assert path in schema


def test_swagger_ui_is_served_from_our_own_static_files(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn.jsdelivr.net" not in page
