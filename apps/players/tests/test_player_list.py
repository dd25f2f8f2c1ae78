"""The player list: columns that fit, filters, search by phone, the recorded CSV export, notes and tags by role."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import DataExport
from apps.players.models import PlayerNote, PlayerTag, Tag
from apps.players.services import player_suspend

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:players_player_changelist")
EXPORT = reverse("admin:players_player_export")


@pytest.fixture
def as_role(staff_user):
    def login(role: str):
        user = staff_user(role)
        client = Client()
        client.force_login(user)
        return client, user

    return login


@pytest.fixture
def vip(db):
    """The VIP tag migration 0008 ships (a transactional test elsewhere may have flushed it: make it again)."""
    from apps.players.services import tag_create

    return Tag.objects.filter(name="VIP").first() or tag_create(name="VIP", actor=None)


def csv_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_list_shows_balance_kyc_market_and_last_login_but_no_uuid(as_role, make_player, fund):
    player = make_player(first_name="Grace", last_name="Hopper")
    fund(player, "12.34")
    client, _ = as_role("support")
    page = client.get(CHANGELIST).content.decode()
    assert player.user.email in page and "Grace Hopper" in page
    assert "12.34 EUR" in page  # the cash column, from the ledger through core.player_list
    assert "Not submitted" in page  # the KYC column
    assert str(player.public_id) not in page  # no UUID wrapping over four lines


def test_search_by_phone_in_the_admin(as_role, make_player):
    wanted = make_player(phone="+44 7700 900123")
    other = make_player(phone="+44 7700 111222")
    client, _ = as_role("operator")
    page = client.get(CHANGELIST, {"q": "07700 900123"[1:]}).content.decode()
    assert wanted.user.email in page and other.user.email not in page


def test_filters_by_kyc_tag_balance_and_registration(as_role, make_player, fund, staff_user, vip):
    rich, poor = make_player(), make_player()
    fund(rich, "1500.00")
    fund(poor, "5.00")
    operator = staff_user("operator")
    from apps.players.services import player_tag_add

    player_tag_add(player=rich, tag=vip, actor=operator, reason="big spender")
    client, _ = as_role("operator")

    page = client.get(CHANGELIST, {"balance": "1000to10000"}).content.decode()
    assert rich.user.email in page and poor.user.email not in page
    page = client.get(CHANGELIST, {"balance": "lt100"}).content.decode()
    assert poor.user.email in page and rich.user.email not in page
    page = client.get(CHANGELIST, {"tag": vip.pk}).content.decode()
    assert rich.user.email in page and poor.user.email not in page
    page = client.get(CHANGELIST, {"kyc": "none"}).content.decode()
    assert rich.user.email in page and poor.user.email in page
    page = client.get(CHANGELIST, {"kyc": "approved"}).content.decode()
    assert rich.user.email not in page
    today = rich.created_at.date().isoformat()
    page = client.get(CHANGELIST, {"created_at__gte": f"{today} 00:00:00+00:00"}).content.decode()
    assert rich.user.email in page


def test_export_of_the_filtered_list_is_streamed_and_recorded(as_role, make_player, fund):
    kept = make_player(first_name="=cmd", last_name="Kept")
    fund(kept, "10.05")
    dropped = make_player()
    player_suspend(player=dropped, actor=None, reason="test")
    client, operator = as_role("operator")

    form = client.get(EXPORT, {"status__exact": "active"})
    assert form.status_code == 200 and b"Download CSV" in form.content

    response = client.get(EXPORT, {"status__exact": "active", "date_from": "2000-01-01", "export": "1"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    emails = {row["email"] for row in rows}
    assert kept.user.email in emails and dropped.user.email not in emails
    row = next(row for row in rows if row["email"] == kept.user.email)
    assert row["cash_balance"] == "10.05"
    assert row["first_name"] == "'=cmd"  # a spreadsheet must not run it as a formula

    record = DataExport.objects.get()
    assert record.user == operator and record.kind == "players"
    assert record.filters == {"status__exact": "active", "date_from": "2000-01-01"}
    assert record.rows == len(rows) and record.completed_at is not None


def test_export_date_range_excludes_players_registered_outside_it(as_role, make_player):
    make_player()
    client, _ = as_role("compliance")
    response = client.get(EXPORT, {"date_to": "2000-01-01", "export": "1"})
    assert csv_rows(response) == []
    assert DataExport.objects.get().rows == 0


def test_support_may_not_export_by_link_or_url(as_role, make_player):
    make_player()
    client, _ = as_role("support")
    assert b"Export CSV" not in client.get(CHANGELIST).content
    assert client.get(EXPORT, {"export": "1"}).status_code == 403
    assert not DataExport.objects.exists()


def test_only_compliance_reads_the_export_record(as_role, make_player):
    client, _ = as_role("operator")
    client.get(EXPORT, {"export": "1"})
    url = reverse("admin:core_dataexport_changelist")
    assert client.get(url).status_code == 403
    compliance, _ = as_role("compliance")
    assert compliance.get(url).status_code == 200
    record = DataExport.objects.get()
    assert compliance.post(reverse("admin:core_dataexport_delete", args=[record.pk]), {"post": "yes"}).status_code == 403


def test_notes_and_tags_from_the_player_page(as_role, player, vip):
    client, operator = as_role("operator")
    note_url = reverse("admin:players_player_note_add", args=[player.pk])
    assert client.get(note_url).status_code == 405
    assert client.post(note_url, {"text": "Called about a late payout."}).status_code == 302
    note = PlayerNote.objects.get(player=player)
    assert note.author == operator and note.text == "Called about a late payout."

    client.post(reverse("admin:players_player_tag", args=[player.pk, "add"]), {"tag": vip.pk, "reason": "deposits"})
    assert PlayerTag.objects.filter(player=player, tag=vip, added_by=operator).exists()
    client.post(reverse("admin:players_player_tag", args=[player.pk, "remove"]), {"tag": vip.pk, "reason": "no longer"})
    assert not PlayerTag.objects.filter(player=player).exists()
    removed = PlayerTag.history.filter(player_id=player.pk, history_type="-").get()
    assert removed.history_user == operator and removed.history_change_reason == "no longer"


def test_support_notes_but_may_not_tag(as_role, player, vip):
    client, _ = as_role("support")
    assert client.post(reverse("admin:players_player_note_add", args=[player.pk]), {"text": "Asked about bonus."}).status_code == 302
    assert PlayerNote.objects.filter(player=player).count() == 1
    response = client.post(reverse("admin:players_player_tag", args=[player.pk, "add"]), {"tag": vip.pk, "reason": "x"})
    assert response.status_code == 403
    assert not PlayerTag.objects.exists()


def test_tag_services_refuse_a_role_without_the_permission(staff_user, player, vip):
    from apps.core.errors import PermissionDenied
    from apps.players.services import player_tag_add

    with pytest.raises(PermissionDenied):
        player_tag_add(player=player, tag=vip, actor=staff_user("support"), reason="x")
