"""Players whom the return from their own self-exclusion made active (or suspended, if they had been suspended
before it) although a national self-exclusion register (GAMSTOP, RGIAJ) barred them: before the rule in
players.selectors.player_assert_not_legally_barred, apps.limits' return did not look at the bar. They are
self-excluded again, with a history row each (the regulator's RUD reports the change); an operator lifts the bar
with "Lift the bar on" once the register no longer names them (players.services.player_reinstate_barred).

UKGC LCCP SR 3.5.4 (GAMSTOP participation); RD 1614/2011 art. 26 and Ley 13/2011 art. 22 (RGIAJ). No row is
changed on a database the bug never touched: a bar always comes with the status self_excluded (or closed).
"""

from datetime import UTC, datetime

from django.db import migrations

REASON = "Legally barred: self-excluded again (returned while barred; UKGC SR 3.5.4, RD 1614/2011 art. 26)"


def rebar(apps, schema_editor, now=None):
    Player = apps.get_model("players", "Player")
    HistoricalPlayer = apps.get_model("players", "HistoricalPlayer")
    now = now or datetime.now(UTC)
    returned = Player.objects.filter(legally_barred_at__isnull=False, status__in=["active", "suspended"])
    changed = 0
    for player_id in list(returned.order_by("pk").values_list("pk", flat=True)):
        Player.objects.filter(pk=player_id).update(
            status="self_excluded", status_reason=REASON, status_reason_code="", status_changed_at=now, updated_at=now
        )
        player = Player.objects.get(pk=player_id)
        HistoricalPlayer.objects.create(
            **{field.attname: getattr(player, field.attname) for field in Player._meta.concrete_fields},
            history_date=now, history_type="~", history_change_reason=REASON[:100],
        )
        changed += 1
    return changed


class Migration(migrations.Migration):
    dependencies = [("players", "0010_national_register_schedule")]

    operations = [migrations.RunPython(rebar, migrations.RunPython.noop)]
