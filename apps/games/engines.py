"""The in-house games: how each maps the round's floats to an outcome, and its paytable, as data.

One rule reaches any configured RTP exactly, for every game: each outcome's probability is an exact
fraction, and a winning outcome pays `floor(stake × RTP × base / B)` minor units (the stake included),
where `base` is the outcome's entry in the paytable and B the paytable's own expected return
(Σ probability × base). The unrounded expectation is therefore exactly RTP × stake; rounding the
payout down to the currency's minor unit costs the player less than one minor unit per round in
expectation, and never pays more than the RTP. Dice is API.md's formula verbatim (base = 1 on each of
the W winning rolls of 10,001, so RTP × base / B = RTP × 10001 / W); roulette is the same with 37
pockets; the slot scales a classic multiplier table. `outcome_table` lists every outcome with its
probability and exact multiplier, and the tests sum it with Fractions.

Floats arrive as 32-bit integers (apps.games.fairness); `scaled(n, N)` is floor(f × N) exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from itertools import product
from typing import Any

from apps.core.errors import ValidationFailed

from .fairness import scaled


def rtp_fraction(rtp: Decimal) -> Fraction:
    return Fraction(rtp) / 100


def _cut4(value: Fraction) -> str:
    """A multiplier for display: cut (not rounded) to 4 decimals."""
    whole = value.numerator * 10_000 // value.denominator
    return f"{Decimal(whole).scaleb(-4):.4f}"


def _pay(stake_minor: int, multiplier: Fraction) -> int:
    product_ = stake_minor * multiplier
    return product_.numerator // product_.denominator


@dataclass(frozen=True)
class Play:
    payout_minor: int
    outcome: dict[str, Any]
    multiplier: Fraction  # exact payout multiplier before rounding (0 for a loss)


class Engine:
    slug: str  # the catalog kind it plays (Game.kind)
    floats: int

    def parse_choices(self, raw: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def play(self, *, units: list[int], stake_minor: int, rtp: Decimal, choices: dict[str, Any]) -> Play:
        raise NotImplementedError

    def outcome_table(self, *, rtp: Decimal, choices: dict[str, Any]) -> list[tuple[Fraction, Fraction]]:
        """Every outcome's (probability, exact payout multiplier); the probabilities sum to 1."""
        raise NotImplementedError

    def expected_multiplier(self, *, rtp: Decimal, choices: dict[str, Any]) -> Fraction:
        return sum((p * m for p, m in self.outcome_table(rtp=rtp, choices=choices)), Fraction(0))

    def variance_per_unit(self, *, rtp: Decimal, choices: dict[str, Any]) -> float:
        """Var(payout multiplier), from the whole table; games with one winning multiplier answer in closed form."""
        table = self.outcome_table(rtp=rtp, choices=choices)
        mean = sum((p * m for p, m in table), Fraction(0))
        return float(sum((p * m * m for p, m in table), Fraction(0)) - mean * mean)

    def default_choices(self) -> dict[str, Any]:
        return self.parse_choices({})


def _one_prize_variance(win_probability: Fraction, multiplier: Fraction) -> float:
    """A bet that pays `multiplier` with probability q, else 0: Var = q·m² − (q·m)² (the table's sum, without the table)."""
    return float(win_probability * multiplier * multiplier - (win_probability * multiplier) ** 2)


def _only(raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValidationFailed(details={name: ["This game has no such choice."] for name in unknown})


# --- Dice (API.md) ---------------------------------------------------------------------------------

DICE_ROLLS = 10_001  # 0.00 … 100.00
# A bet that wins on more than 98% of rolls would pay back less than its stake on a win; the range
# keeps every win a win.
DICE_MAX_WINNING_ROLLS = 9_800


class Dice(Engine):
    """roll = floor(f0 × 10001) / 100; win when roll < target (under) or roll > target (over)."""

    slug = "dice"
    floats = 1

    def parse_choices(self, raw: dict[str, Any]) -> dict[str, Any]:
        _only(raw, {"target", "direction"})
        target = raw.get("target", "50.00")
        direction = raw.get("direction", "under")
        if direction not in ("under", "over"):
            raise ValidationFailed(details={"direction": ['Choose "under" or "over".']})
        if not isinstance(target, str):
            raise ValidationFailed(details={"target": ['Send the target as a decimal string, e.g. "50.00".']})
        try:
            value = Decimal(target)
        except InvalidOperation:
            raise ValidationFailed(details={"target": ["Not a decimal number."]}) from None
        if not value.is_finite() or value != value.quantize(Decimal("0.01")) or not Decimal("0.01") <= value <= Decimal("99.99"):
            raise ValidationFailed(details={"target": ["Use 0.01 to 99.99 with at most two decimals."]})
        choices = {"target": f"{value:.2f}", "direction": direction}
        if not 1 <= self.winning_rolls(choices) <= DICE_MAX_WINNING_ROLLS:
            raise ValidationFailed(details={"target": ["This target wins too often or never; pick another."]})
        return choices

    @staticmethod
    def winning_rolls(choices: dict[str, Any]) -> int:
        """W: how many of the 10,001 rolls (k = 0 … 10000, roll = k / 100) win."""
        target_k = int(Decimal(choices["target"]) * 100)
        return target_k if choices["direction"] == "under" else DICE_ROLLS - 1 - target_k

    @staticmethod
    def wins(k: int, choices: dict[str, Any]) -> bool:
        target_k = int(Decimal(choices["target"]) * 100)
        return k < target_k if choices["direction"] == "under" else k > target_k

    def win_multiplier(self, rtp: Decimal, choices: dict[str, Any]) -> Fraction:
        return _dice_multiplier(rtp, self.winning_rolls(choices))

    def play(self, *, units: list[int], stake_minor: int, rtp: Decimal, choices: dict[str, Any]) -> Play:
        k = scaled(units[0], DICE_ROLLS)
        multiplier = self.win_multiplier(rtp, choices)
        win = self.wins(k, choices)
        outcome = {
            "roll": f"{Decimal(k).scaleb(-2):.2f}",
            "target": choices["target"],
            "direction": choices["direction"],
            "win": win,
            "multiplier": _cut4(multiplier),
        }
        payout = _pay(stake_minor, multiplier) if win else 0
        return Play(payout_minor=payout, outcome=outcome, multiplier=multiplier if win else Fraction(0))

    def variance_per_unit(self, *, rtp: Decimal, choices: dict[str, Any]) -> float:
        return _dice_variance(rtp, self.winning_rolls(choices))

    def outcome_table(self, *, rtp: Decimal, choices: dict[str, Any]) -> list[tuple[Fraction, Fraction]]:
        multiplier = self.win_multiplier(rtp, choices)
        p = Fraction(1, DICE_ROLLS)
        return [(p, multiplier if self.wins(k, choices) else Fraction(0)) for k in range(DICE_ROLLS)]


# --- European roulette -----------------------------------------------------------------------------

POCKETS = 37  # 0 … 36; pocket = floor(f0 × 37)
RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})
ROULETTE_BETS = ("straight", "red", "black", "odd", "even", "low", "high", "dozen", "column")


def _roulette_winners(bet: str, number: int) -> frozenset[int]:
    pockets = range(1, POCKETS)
    if bet == "straight":
        return frozenset({number})
    if bet == "red":
        return RED
    if bet == "black":
        return frozenset(pockets) - RED
    if bet == "odd":
        return frozenset(n for n in pockets if n % 2)
    if bet == "even":
        return frozenset(n for n in pockets if not n % 2)
    if bet == "low":
        return frozenset(range(1, 19))
    if bet == "high":
        return frozenset(range(19, 37))
    if bet == "dozen":
        return frozenset(range(12 * (number - 1) + 1, 12 * number + 1))
    return frozenset(n for n in pockets if (n - number) % 3 == 0)  # column 1: 1, 4, …, 34


class Roulette(Engine):
    """pocket = floor(f0 × 37). A bet covering W pockets pays RTP × 37 / W (36/37 RTP gives the classic 36×, 2×, 3×)."""

    slug = "roulette"
    floats = 1

    def parse_choices(self, raw: dict[str, Any]) -> dict[str, Any]:
        _only(raw, {"bet", "number"})
        bet = raw.get("bet", "red")
        if bet not in ROULETTE_BETS:
            raise ValidationFailed(details={"bet": [f"Choose one of {', '.join(ROULETTE_BETS)}."]})
        choices: dict[str, Any] = {"bet": bet}
        if bet in ("straight", "dozen", "column"):
            number = raw.get("number", 0 if bet == "straight" else 1)
            low, high = (0, 36) if bet == "straight" else (1, 3)
            if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
                raise ValidationFailed(details={"number": [f"An integer from {low} to {high}."]})
            choices["number"] = number
        elif "number" in raw:
            raise ValidationFailed(details={"number": ["Only straight, dozen and column bets take a number."]})
        return choices

    @staticmethod
    def winners(choices: dict[str, Any]) -> frozenset[int]:
        return _roulette_winners(choices["bet"], choices.get("number", 0))

    def win_multiplier(self, rtp: Decimal, choices: dict[str, Any]) -> Fraction:
        return rtp_fraction(rtp) * POCKETS / len(self.winners(choices))

    def play(self, *, units: list[int], stake_minor: int, rtp: Decimal, choices: dict[str, Any]) -> Play:
        pocket = scaled(units[0], POCKETS)
        multiplier = self.win_multiplier(rtp, choices)
        win = pocket in self.winners(choices)
        outcome = {
            "pocket": pocket,
            "color": "green" if pocket == 0 else ("red" if pocket in RED else "black"),
            **choices,
            "win": win,
            "multiplier": _cut4(multiplier),
        }
        payout = _pay(stake_minor, multiplier) if win else 0
        return Play(payout_minor=payout, outcome=outcome, multiplier=multiplier if win else Fraction(0))

    def variance_per_unit(self, *, rtp: Decimal, choices: dict[str, Any]) -> float:
        return _one_prize_variance(Fraction(len(self.winners(choices)), POCKETS), self.win_multiplier(rtp, choices))

    def outcome_table(self, *, rtp: Decimal, choices: dict[str, Any]) -> list[tuple[Fraction, Fraction]]:
        multiplier = self.win_multiplier(rtp, choices)
        winners = self.winners(choices)
        return [(Fraction(1, POCKETS), multiplier if pocket in winners else Fraction(0)) for pocket in range(POCKETS)]


# --- Three-reel slot -------------------------------------------------------------------------------

# One strip per reel (the same 20 stops on each); reel i stops at floor(f_i × 20) and shows that symbol.
REEL_STRIP = (
    "seven",
    "bar", "bar",
    "bell", "bell", "bell",
    "plum", "plum", "plum", "plum",
    "cherry", "cherry", "cherry", "cherry", "cherry",
    "lemon", "lemon", "lemon", "lemon", "lemon",
)
REELS = 3
# The classic table's multipliers (stake included) before scaling to the configured RTP.
THREE_OF_A_KIND = {"seven": 200, "bar": 60, "bell": 25, "plum": 12, "cherry": 8, "lemon": 5}
TWO_CHERRIES = 2  # exactly two cherries anywhere on the line


def slot_base_multiplier(symbols: tuple[str, ...]) -> int:
    if len(set(symbols)) == 1:
        return THREE_OF_A_KIND[symbols[0]]
    if Counter(symbols)["cherry"] == 2:
        return TWO_CHERRIES
    return 0


def slot_base_return() -> Fraction:
    """B: the classic table's own expected return, summed over all 20³ equally likely stops."""
    stops = len(REEL_STRIP) ** REELS
    total = sum(slot_base_multiplier(tuple(REEL_STRIP[i] for i in combo)) for combo in product(range(len(REEL_STRIP)), repeat=REELS))
    return Fraction(total, stops)


SLOT_BASE_RETURN = slot_base_return()


class Slot(Engine):
    """Three reels, one line: reel i = REEL_STRIP[floor(f_i × 20)]; a line pays RTP × base / B."""

    slug = "slots"
    floats = REELS

    def parse_choices(self, raw: dict[str, Any]) -> dict[str, Any]:
        _only(raw, set())
        return {}

    @staticmethod
    def multiplier(rtp: Decimal, base: int) -> Fraction:
        return rtp_fraction(rtp) * base / SLOT_BASE_RETURN

    def play(self, *, units: list[int], stake_minor: int, rtp: Decimal, choices: dict[str, Any]) -> Play:
        stops = [scaled(unit, len(REEL_STRIP)) for unit in units[:REELS]]
        symbols = tuple(REEL_STRIP[stop] for stop in stops)
        base = slot_base_multiplier(symbols)
        multiplier = self.multiplier(rtp, base)
        outcome = {"stops": stops, "symbols": list(symbols), "win": base > 0, "multiplier": _cut4(multiplier)}
        return Play(payout_minor=_pay(stake_minor, multiplier), outcome=outcome, multiplier=multiplier)

    def variance_per_unit(self, *, rtp: Decimal, choices: dict[str, Any]) -> float:
        return _slot_variance(rtp)

    def outcome_table(self, *, rtp: Decimal, choices: dict[str, Any]) -> list[tuple[Fraction, Fraction]]:
        p = Fraction(1, len(REEL_STRIP) ** REELS)
        return [
            (p, self.multiplier(rtp, slot_base_multiplier(tuple(REEL_STRIP[i] for i in combo))))
            for combo in product(range(len(REEL_STRIP)), repeat=REELS)
        ]


# Exact Fraction arithmetic on every round (a multiplier, then a variance) cost more CPU than drawing the outcome;
# both depend only on the RTP and the count of winning rolls, of which a session plays few.
@lru_cache(maxsize=4096)
def _dice_multiplier(rtp: Decimal, winning_rolls: int) -> Fraction:
    return rtp_fraction(rtp) * DICE_ROLLS / winning_rolls


@lru_cache(maxsize=4096)
def _dice_variance(rtp: Decimal, winning_rolls: int) -> float:
    return _one_prize_variance(Fraction(winning_rolls, DICE_ROLLS), _dice_multiplier(rtp, winning_rolls))


@lru_cache(maxsize=64)
def _slot_variance(rtp: Decimal) -> float:
    return Engine.variance_per_unit(Slot(), rtp=rtp, choices={})


ENGINES: dict[str, Engine] = {engine.slug: engine for engine in (Dice(), Roulette(), Slot())}


def engine_for(kind: str) -> Engine | None:
    """The in-house engine of a catalog kind (`Game.kind`)."""
    return ENGINES.get(kind)
