"""Staff API for report runs: compliance only, API.md's error shape, cursor pages, the file once done."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.reports.models import ReportRun

from .conftest import DAY1, run_report

URL = "/api/v1/staff/reports/runs"


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def test_compliance_asks_for_a_run_lists_it_and_downloads_the_file(world, django_capture_on_commit_callbacks):
    client = _client(world.compliance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"type": "dgoj_cjd_daily", "period": DAY1.isoformat()}, format="json")
    assert response.status_code == 202
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "queued"
    run = ReportRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.requested_by_id) == ("done", world.compliance.pk)

    page = client.get(URL).json()
    assert set(page) == {"results", "next", "previous"}
    assert page["results"][0] == {
        "id": run.pk, "type": "dgoj_cjd_daily", "period": "2026-11-10", "status": "done", "rows": 2,
        "sha256": run.sha256, "created_at": page["results"][0]["created_at"],
    }
    download = client.get(f"{URL}/{run.pk}/file")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/xml"
    assert run.file_name in download["Content-Disposition"]
    assert b"".join(download.streaming_content).startswith(b"<?xml")


def test_pages_are_cursor_paginated(world):
    for _ in range(3):
        run_report("ggr_daily", DAY1.isoformat())
    page = _client(world.compliance).get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]


def test_a_player_or_an_operator_gets_permission_denied(world, staff_user):
    for user in (world.alice.user, staff_user("operator")):
        client = _client(user)
        for response in (client.get(URL), client.post(URL, {"type": "ggr_daily", "period": "2026-11-10"}, format="json")):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "permission_denied"
    assert ReportRun.objects.count() == 0


@pytest.mark.parametrize(
    "body,field",
    [({"type": "nope", "period": "2026-11-10"}, "type"), ({"type": "dgoj_cjd_monthly", "period": "2026-11-10"}, "period"),
     ({"type": "ukgc_quarterly", "period": "2026-Q5"}, "period"), ({"type": "ggr_daily"}, "period")],
)
def test_bad_input_is_a_validation_error(world, body, field):
    response = _client(world.compliance).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]


def test_file_of_an_unfinished_or_unknown_run(world):
    from apps.reports.services import report_run_request

    run = report_run_request(report_type="ggr_daily", period="2026-11-10", enqueue=False)
    client = _client(world.compliance)
    response = client.get(f"{URL}/{run.pk}/file")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invalid_state")
    response = client.get(f"{URL}/999999/file")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_unauthenticated_is_401(db):
    response = APIClient().get(URL)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "not_authenticated")


def test_admin_lists_downloads_and_requests_runs(world, client, django_capture_on_commit_callbacks):
    run = run_report("ggr_daily", DAY1.isoformat())
    client.force_login(world.compliance)
    assert client.get("/admin/reports/reportrun/").status_code == 200
    response = client.get(f"/admin/reports/reportrun/{run.pk}/file/")
    assert response.status_code == 200 and b"roulette-eu" in b"".join(response.streaming_content)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/reports/reportrun/request/", {"report_type": "ukgc_quarterly", "period": "2026-Q4"})
    assert response.status_code == 302
    assert ReportRun.objects.filter(report_type="ukgc_quarterly", period="2026-Q4", status="done", requested_by=world.compliance).exists()
    response = client.post("/admin/reports/reportrun/request/", {"report_type": "ukgc_quarterly", "period": "2026-11"})
    assert response.status_code == 200 and b"YYYY-Qn" in response.content
