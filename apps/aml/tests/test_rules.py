"""Each rule kind with its shipped defaults, evaluated by the sweep and in real time with the same code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.aml import services
from apps.aml.models import AlertLevel, AmlAlert, AmlHit, AmlRule, RuleKind, Watermark, level_for_score

from .conftest import T0, money

pytestmark = pytest.mark.django_db


def test_shipped_defaults_are_the_issues():
    rules = {r.kind: r for r in AmlRule.objects.all()}
    assert (rules["deposit_velocity"].count, rules["deposit_velocity"].window_minutes, rules["deposit_velocity"].score) == (5, 60, 40)
    assert (str(rules["large_transaction"].amount_eur), rules["large_transaction"].score) == ("5000.00", 50)
    assert rules["structuring"].score == 70 and rules["rapid_cycling"].score == 60
    assert rules["history_change"].score == 40 and rules["shared_identity"].score == 50
    assert all(r.enabled for r in rules.values())


@pytest.mark.parametrize(("score", "level"), [(0, "low"), (29, "low"), (30, "medium"), (59, "medium"), (60, "high"), (84, "high"),
                                              (85, "critical"), (200, "critical")])
def test_levels_from_score(score, level):
    assert level_for_score(score) == level


def test_five_deposits_within_an_hour_open_one_medium_alert(player, post, sweep):
    txns = [post("deposit", player, "10.00", at=T0 + timedelta(minutes=10 * i)) for i in range(5)]
    result = sweep()
    alert = AmlAlert.objects.get(player=player)
    assert (alert.rule, alert.score, alert.level, alert.status) == (RuleKind.DEPOSIT_VELOCITY, 40, AlertLevel.MEDIUM, "open")
    assert alert.freezes_withdrawals is False
    [hit] = alert.evidence["hits"]
    assert hit["transaction_ids"] == [t.pk for t in txns] and hit["deposits"] == 5
    assert result.alerts == 1


def test_four_deposits_or_five_spread_over_more_than_an_hour_do_not(player, make_player, post, sweep):
    for i in range(4):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    other = make_player()
    for i in range(5):
        post("deposit", other, "10.00", at=T0 + timedelta(minutes=16 * i))  # 64 minutes from first to last
    sweep()
    assert not AmlAlert.objects.exists()


def test_a_rerun_sweep_and_the_real_time_task_add_nothing(player, post, sweep):
    txns = [post("deposit", player, "10.00", at=T0 + timedelta(minutes=i)) for i in range(6)]
    sweep()
    hits_before = AmlHit.objects.count()
    Watermark.objects.filter(name=services.MONITORING_WATERMARK).update(last_id=0)  # read everything again
    assert sweep().alerts == 0
    for txn in txns:
        assert services.evaluate_transaction(transaction_id=txn.pk) == []
    assert AmlAlert.objects.count() == 1 and AmlHit.objects.count() == hits_before


def test_real_time_evaluation_finds_what_the_sweep_would(player, post):
    txns = [post("deposit", player, "10.00", at=T0 + timedelta(minutes=i)) for i in range(5)]
    assert services.evaluate_transaction(transaction_id=txns[3].pk) == []  # only four so far as of the fourth
    [alert] = services.evaluate_transaction(transaction_id=txns[4].pk)
    assert alert.rule == RuleKind.DEPOSIT_VELOCITY


def test_large_single_deposit_in_eur_and_converted(make_player, post, sweep):
    eur = make_player()
    small = make_player()
    usd = make_player(currency="USD")
    post("deposit", eur, "5000.00")
    post("deposit", small, "4999.99")
    post("deposit", usd, "5400.00")  # 4,968 EUR at the demo rate 0.92: below
    post("deposit", usd, "5500.00", at=T0 + timedelta(minutes=1))  # 5,060 EUR: above
    sweep()
    assert AmlAlert.objects.get(player=eur).score == 50
    assert not AmlAlert.objects.filter(player=small).exists()
    [hit] = AmlAlert.objects.get(player=usd).evidence["hits"]
    assert hit["amount"] == "5500.00 USD"


def test_structuring_just_below_the_due_diligence_threshold(player, make_player, post, sweep):
    for i in range(3):
        post("deposit", player, "1850.00", at=T0 + timedelta(hours=5 * i))
    below_band = make_player()
    for i in range(3):
        post("deposit", below_band, "1700.00", at=T0 + timedelta(hours=5 * i))
    sweep(T0 + timedelta(hours=11))
    alert = AmlAlert.objects.get(player=player)
    assert (alert.rule, alert.score, alert.level) == (RuleKind.STRUCTURING, 70, AlertLevel.HIGH)
    assert len(alert.evidence["hits"][0]["transaction_ids"]) == 3
    assert set(AmlHit.objects.filter(player=player).values_list("rule", flat=True)) == {"structuring"}
    assert not AmlAlert.objects.filter(player=below_band).exists()


def test_rapid_cycling_withdrawal_of_barely_played_money(make_player, post, sweep):
    cycler, player = make_player(), make_player()
    for who, staked in ((cycler, "99.99"), (player, "100.00")):
        post("deposit", who, "1000.00")
        post("bet", who, staked, at=T0 + timedelta(minutes=5))
        post("withdrawal", who, "800.00", at=T0 + timedelta(minutes=10))
    sweep()
    alert = AmlAlert.objects.get(player=cycler)
    assert (alert.rule, alert.score, alert.level) == (RuleKind.RAPID_CYCLING, 60, AlertLevel.HIGH)
    assert not AmlAlert.objects.filter(player=player).exists()  # exactly 10 % wagered is enough


def test_change_against_the_players_own_history(make_player, post, sweep):
    steady, jumper = make_player(), make_player()
    for day in range(1, 31):
        post("deposit", steady, "100.00", at=T0 - timedelta(days=day))
        post("deposit", jumper, "100.00", at=T0 - timedelta(days=day))
    post("deposit", steady, "400.00")  # 4 × the 100 EUR daily average, against a 200 EUR floor: 1,000 needed
    post("deposit", jumper, "1000.01")
    newcomer = make_player()
    post("deposit", newcomer, "2000.00")  # no history to change against
    sweep()
    assert not AmlAlert.objects.filter(player=newcomer).exists()
    assert not AmlAlert.objects.filter(player=steady).exists()
    alert = AmlAlert.objects.get(player=jumper)
    assert alert.rule == RuleKind.HISTORY_CHANGE and alert.score == 40


def test_several_rules_on_one_player_add_into_one_critical_alert(player, post, sweep):
    for i in range(4):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    post("deposit", player, "6000.00", at=T0 + timedelta(minutes=5))  # velocity 40 + large 50
    sweep()
    alert = AmlAlert.objects.get(player=player)
    assert {h["rule"] for h in alert.evidence["hits"]} == {"deposit_velocity", "large_transaction"}
    assert alert.score == 90 and alert.level == AlertLevel.CRITICAL and alert.freezes_withdrawals


def test_a_rule_counts_once_per_alert(player, post, sweep):
    for i in range(8):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    alert = AmlAlert.objects.get(player=player)
    assert AmlHit.objects.filter(alert=alert).count() == 4  # the 5th to the 8th deposit each completed the pattern
    assert alert.score == 40


def test_a_disabled_rule_does_not_fire(player, post, sweep):
    AmlRule.objects.filter(kind=RuleKind.LARGE_TRANSACTION).update(enabled=False)
    post("deposit", player, "9000.00")
    sweep()
    assert not AmlAlert.objects.exists()


def test_a_tuned_threshold_applies(player, post, sweep):
    AmlRule.objects.filter(kind=RuleKind.DEPOSIT_VELOCITY).update(count=3)
    for i in range(3):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    assert AmlAlert.objects.get(player=player).rule == RuleKind.DEPOSIT_VELOCITY


def test_the_sweep_moves_its_watermark_and_rereads_only_the_overlap(player, post, sweep):
    first = post("deposit", player, "10.00")
    result = sweep(T0 + timedelta(hours=2))
    assert (result.from_id, result.to_id) == (0, first.pk)
    second = post("deposit", player, "10.00", at=T0 + timedelta(hours=3))
    result = sweep(T0 + timedelta(hours=3, minutes=1))
    # the first posting is older than the overlap window: only the new one is read
    assert (result.from_id, result.to_id) == (first.pk, second.pk)
    result = sweep(T0 + timedelta(hours=3, minutes=2))
    assert (result.from_id, result.to_id) == (second.pk - 1, second.pk)  # re-read: inside the overlap window


def test_after_a_dismissal_the_same_evidence_does_not_reopen_but_new_evidence_does(player, post, sweep, officer):
    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    sweep()
    alert = AmlAlert.objects.get()
    services.alert_transition(alert_id=alert.pk, actor=officer, action="investigate", note="looking")
    services.alert_transition(alert_id=alert.pk, actor=officer, action="dismiss", note="payday, known pattern")
    Watermark.objects.update(last_id=0)
    sweep()
    assert AmlAlert.objects.count() == 1
    post("deposit", player, "10.00", at=T0 + timedelta(minutes=6))
    sweep(T0 + timedelta(minutes=7))
    assert AmlAlert.objects.count() == 2 and AmlAlert.objects.filter(status="open").count() == 1


def _shared_sweep():
    from apps.core import clock

    return services.monitoring_sweep(now=clock.now())


def test_three_players_on_one_device_each_get_a_shared_identity_hit(make_player):
    trio = [make_player(device_id="dev-7f3a") for _ in range(3)]
    pair = [make_player(device_id="dev-other") for _ in range(2)]
    _shared_sweep()
    assert set(AmlAlert.objects.values_list("player_id", flat=True)) == {p.pk for p in trio}
    hit = AmlAlert.objects.filter(player=trio[0]).get().evidence["hits"][0]
    assert (hit["identifier"], hit["value"], hit["players"]) == ("device", "dev-7f3a", sorted(p.pk for p in trio))
    assert not AmlAlert.objects.filter(player__in=pair).exists()
    _shared_sweep()
    assert AmlHit.objects.count() == 3


def test_shared_public_ip_counts_but_private_loopback_and_proxies_do_not(make_player, settings):
    settings.TRUSTED_PROXIES = ["198.51.100.0/24"]
    public = [make_player(signup_ip="185.199.108.9") for _ in range(3)]
    for ip in ("10.0.0.5", "127.0.0.1", "198.51.100.20"):
        for _ in range(3):
            make_player(signup_ip=ip)
    _shared_sweep()
    assert set(AmlAlert.objects.values_list("player_id", flat=True)) == {p.pk for p in public}


def test_real_time_shared_identity_for_the_posting_player(make_player, post):
    from apps.core import clock

    sharers = [make_player(device_id="dev-rt") for _ in range(3)]
    txn = post("deposit", sharers[0], "10.00", at=clock.now())
    alerts = services.evaluate_transaction(transaction_id=txn.pk)
    # every player sharing it is a party to the pattern
    assert sorted(a.player_id for a in alerts) == sorted(p.pk for p in sharers)
    assert {a.rule for a in alerts} == {RuleKind.SHARED_IDENTITY}


def test_a_public_login_ip_shared_by_three_players_counts(make_player, api_client):
    players = [make_player(email=f"login-{n}@example.com") for n in range(3)]
    for p in players:
        response = api_client.post("/api/v1/auth/token", {"email": p.user.email.upper(), "password": "A-strong-passphrase-42"},
                                   format="json", REMOTE_ADDR="185.199.108.77")
        assert response.status_code == 200
    _shared_sweep()
    alerts = AmlAlert.objects.filter(rule=RuleKind.SHARED_IDENTITY)
    assert sorted(a.player_id for a in alerts) == sorted(p.pk for p in players)
    assert alerts[0].evidence["hits"][0]["value"] == "185.199.108.77"


def test_hits_within_the_rules_window_add_into_one_alert_and_later_ones_open_another(player, post, sweep):
    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(minutes=i))
    post("deposit", player, "6000.00", at=T0 + timedelta(minutes=30))  # large: within its window of the velocity hits
    sweep()
    first = AmlAlert.objects.get()
    assert {h.rule for h in first.hits.all()} == {RuleKind.DEPOSIT_VELOCITY, RuleKind.LARGE_TRANSACTION}
    assert (first.first_hit_at, first.last_hit_at) == (T0 + timedelta(minutes=4), T0 + timedelta(minutes=30))
    hits_before = first.hits.count()
    # A second burst three days later is a new pattern, not more of the same case, though the first is still open.
    for i in range(5):
        post("deposit", player, "10.00", at=T0 + timedelta(days=3, minutes=i))
    sweep(T0 + timedelta(days=3, hours=1))
    alerts = list(AmlAlert.objects.order_by("id"))
    assert len(alerts) == 2 and [a.status for a in alerts] == ["open", "open"]
    assert alerts[1].hits.get().rule == RuleKind.DEPOSIT_VELOCITY and alerts[1].first_hit_at == T0 + timedelta(days=3, minutes=4)
    assert AmlAlert.objects.get(pk=first.pk).hits.count() == hits_before  # the first case did not grow


def test_the_sweep_records_many_players_alerts_with_one_history_row_each(make_player, post, sweep):
    players = [make_player() for _ in range(4)]
    for p in players:
        for i in range(5):
            post("deposit", p, "10.00", at=T0 + timedelta(minutes=i))
    result = sweep()
    assert result.alerts == 4
    for alert in AmlAlert.objects.all():
        assert alert.history.count() == 1 and alert.history.get().history_type == "+"
        assert alert.score == 40 and alert.hits.count() == 1
    post("deposit", players[0], "6000.00", at=T0 + timedelta(minutes=20))
    sweep(T0 + timedelta(hours=1))
    grown = AmlAlert.objects.get(player=players[0])
    assert grown.score == 90 and grown.level == "critical" and grown.freezes_withdrawals
    assert grown.history.count() == 2 and grown.history.first().history_change_reason == "new hits added"


def test_one_payment_instrument_funding_three_players_is_shared_identity(make_player, settings):
    from apps.payments import services as payments
    from apps.payments.models import Deposit

    settings.PAYMENTS_DEPOSIT_METHODS = ["sandbox_async"]
    trio = [make_player() for _ in range(3)]
    other = make_player()
    for n, p in enumerate([*trio, other]):
        deposit = payments.deposit_create(player=p, amount=money("20.00"), method="sandbox_async", idempotency_key=f"fp{n}")
        token = "tok_card_A" if p in trio else "tok_card_B"
        payments.deposit_complete(deposit_id=deposit.pk, card_last4="4242", instrument_token=token)
    fingerprints = set(Deposit.objects.values_list("instrument_fingerprint", flat=True))
    assert len(fingerprints) == 2 and all(len(fp) == 64 and "4242" not in fp for fp in fingerprints)
    _shared_sweep()
    alerts = AmlAlert.objects.filter(rule=RuleKind.SHARED_IDENTITY)
    assert sorted(a.player_id for a in alerts) == sorted(p.pk for p in trio)
    hit = alerts[0].evidence["hits"][0]
    assert hit["identifier"] == "instrument" and "tok_card_A" not in str(hit)
