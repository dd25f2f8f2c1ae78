"""Every in-house paytable returns the configured RTP exactly, proven by summing its outcome table (no sampling)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from apps.core.errors import ValidationFailed
from apps.games.engines import (
    DICE_ROLLS,
    ENGINES,
    POCKETS,
    REEL_STRIP,
    SLOT_BASE_RETURN,
    Dice,
    Roulette,
    Slot,
    slot_base_multiplier,
)
from apps.games.fairness import SCALE

RTPS = [Decimal("80.00"), Decimal("94.37"), Decimal("96.00"), Decimal("97.30"), Decimal("99.00")]

DICE_CHOICES = [
    {"target": "50.00", "direction": "under"},
    {"target": "50.00", "direction": "over"},
    {"target": "0.01", "direction": "under"},
    {"target": "99.99", "direction": "over"},
    {"target": "33.33", "direction": "under"},
    {"target": "2.00", "direction": "over"},
]
ROULETTE_CHOICES = [
    {"bet": "red"}, {"bet": "black"}, {"bet": "odd"}, {"bet": "even"}, {"bet": "low"}, {"bet": "high"},
    {"bet": "straight", "number": 0}, {"bet": "straight", "number": 17}, {"bet": "dozen", "number": 3}, {"bet": "column", "number": 1},
]


def _cases():
    for rtp in RTPS:
        for choices in DICE_CHOICES:
            yield Dice(), rtp, choices
        for choices in ROULETTE_CHOICES:
            yield Roulette(), rtp, choices
        yield Slot(), rtp, {}


@pytest.mark.parametrize(("engine", "rtp", "choices"), list(_cases()))
def test_the_outcome_table_returns_the_configured_rtp_exactly(engine, rtp, choices):
    parsed = engine.parse_choices(choices)
    table = engine.outcome_table(rtp=rtp, choices=parsed)
    assert sum(p for p, _ in table) == 1
    assert sum(p * m for p, m in table) == Fraction(rtp) / 100


@pytest.mark.parametrize(("engine", "rtp", "choices"), list(_cases()))
def test_rounding_payouts_down_costs_the_player_less_than_one_minor_unit(engine, rtp, choices):
    """What is actually paid: floor(stake × multiplier) per outcome, summed over the table, for an awkward stake."""
    parsed = engine.parse_choices(choices)
    stake = 137  # 1.37 EUR
    paid = sum(p * ((stake * m).numerator // (stake * m).denominator) for p, m in engine.outcome_table(rtp=rtp, choices=parsed))
    target = stake * Fraction(rtp) / 100
    assert target - 1 < paid <= target


def test_dice_pays_the_api_md_formula():
    """Win pays floor(stake × RTP × 10001 / W); W = 5000 for under 50.00; the multiplier is cut to 4 decimals."""
    dice = Dice()
    choices = dice.parse_choices({})
    assert choices == {"target": "50.00", "direction": "under"}
    assert dice.winning_rolls(choices) == 5000
    win_unit = 2170 * SCALE // DICE_ROLLS + 1  # the smallest float whose roll is 21.70
    play = dice.play(units=[win_unit], stake_minor=1000, rtp=Decimal("99.00"), choices=choices)
    assert play.outcome == {"roll": "21.70", "target": "50.00", "direction": "under", "win": True, "multiplier": "1.9801"}
    assert play.payout_minor == 1000 * 99 * 10001 // (100 * 5000) == 1980
    lose = dice.play(units=[SCALE - 1], stake_minor=1000, rtp=Decimal("99.00"), choices=choices)
    assert lose.outcome["roll"] == "100.00" and lose.payout_minor == 0 and lose.outcome["win"] is False


def test_dice_over_and_under_count_the_winning_rolls():
    dice = Dice()
    assert dice.winning_rolls({"target": "50.00", "direction": "over"}) == 5000  # 50.01 … 100.00
    assert dice.winning_rolls({"target": "0.01", "direction": "under"}) == 1  # only 0.00
    assert not dice.wins(5000, {"target": "50.00", "direction": "under"})
    assert not dice.wins(5000, {"target": "50.00", "direction": "over"})


@pytest.mark.parametrize(
    "raw",
    [{"target": 50}, {"target": "50.001"}, {"target": "0.00"}, {"target": "100.00"}, {"target": "NaN"}, {"direction": "sideways"},
     {"target": "99.00", "direction": "under"}, {"colour": "red"}],
)
def test_dice_refuses_bad_choices(raw):
    with pytest.raises(ValidationFailed):
        Dice().parse_choices(raw)


def test_roulette_maps_the_float_to_a_pocket_and_pays_36_for_a_straight_at_the_classic_rtp():
    roulette = Roulette()
    choices = roulette.parse_choices({"bet": "straight", "number": 17})
    unit = 17 * SCALE // POCKETS + 1
    play = roulette.play(units=[unit], stake_minor=100, rtp=Decimal("97.30"), choices=choices)
    assert play.outcome["pocket"] == 17 and play.outcome["color"] == "black"
    # 36/37 would be 97.297…%; the configured 97.30% pays floor(100 × 0.973 × 37) = 3600.
    assert play.payout_minor == 3600
    assert roulette.play(units=[0], stake_minor=100, rtp=Decimal("97.30"), choices=roulette.parse_choices({})).outcome["pocket"] == 0


@pytest.mark.parametrize("raw", [{"bet": "corner"}, {"bet": "straight", "number": 37}, {"bet": "dozen", "number": 0},
                                 {"bet": "red", "number": 3}, {"bet": "straight", "number": "7"}])
def test_roulette_refuses_bad_choices(raw):
    with pytest.raises(ValidationFailed):
        Roulette().parse_choices(raw)


def test_the_slot_table_is_the_sum_over_every_reel_stop():
    """B (the base table's own return) equals a brute-force count, so the scaling by RTP / B is exact."""
    n = len(REEL_STRIP)
    brute = Fraction(
        sum(slot_base_multiplier((REEL_STRIP[a], REEL_STRIP[b], REEL_STRIP[c])) for a in range(n) for b in range(n) for c in range(n)),
        n**3,
    )
    assert brute == SLOT_BASE_RETURN
    sevens = Slot().play(units=[0, 0, 0], stake_minor=100, rtp=Decimal("96.00"), choices={})
    assert sevens.outcome["symbols"] == ["seven", "seven", "seven"]
    assert sevens.payout_minor == (100 * Fraction(96, 100) * 200 / SLOT_BASE_RETURN).__floor__()


def test_every_engine_has_defaults_so_stake_alone_is_a_round():
    for engine in ENGINES.values():
        assert engine.default_choices() == engine.parse_choices({})


SAMPLED = ({}, {"bet": "red"}, {"target": "33.33", "direction": "under"})


@pytest.mark.parametrize(("engine", "rtp", "choices"), [c for c in _cases() if c[2] in SAMPLED])
def test_the_closed_form_variance_equals_the_tables(engine, rtp, choices):
    """The RTP monitor's per-round variance, computed without building the table on the hot path, is the table's."""
    from apps.games.engines import Engine

    parsed = engine.parse_choices(choices)
    assert engine.variance_per_unit(rtp=rtp, choices=parsed) == pytest.approx(Engine.variance_per_unit(engine, rtp=rtp, choices=parsed))
