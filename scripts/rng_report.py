#!/usr/bin/env python
"""RNG report for the in-house games: `make rng-report` (a script, not a test: it samples).

1. Uniformity of the provably fair floats (API.md, Randomness): 1,000,000 floats drawn exactly as rounds
   draw them (fresh server seed from `secrets`, one client seed, nonces 0, 1, …, every float of each
   HMAC block), tested two ways:
   - Pearson's chi-square over 100 equal bins (df = 99);
   - Kolmogorov–Smirnov against U(0, 1) (the asymptotic Kolmogorov distribution, with Stephens'
     small-sample correction; exact enough at n = 1,000,000).
   A p-value far below 0.01 on repeated runs would mean the floats are not uniform.
2. Simulated RTP of each in-house game over 1,000,000 rounds (default choices) next to its target,
   with the 99% band the RTP monitor would use (target ± 2.576 σ / √n, σ from the paytable).

Pure Python (no SciPy): the p-values come from the regularised incomplete gamma function and the
Kolmogorov series below. No database is touched.

    .venv/bin/python scripts/rng_report.py [--floats 1000000] [--rounds 1000000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


# --- p-values ------------------------------------------------------------------------------------


def gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x): the chi-square survival function is Q(df/2, χ²/2)."""
    if x < 0 or a <= 0:
        raise ValueError("gamma_q needs x >= 0 and a > 0")
    if x == 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-15:
            n += 1
            term *= x / n
            total += term
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Lentz's continued fraction for Q
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(log_prefix) * h


def kolmogorov_p(d: float, n: int) -> float:
    """P(D_n >= d) for the one-sample KS statistic (Kolmogorov's series with Stephens' correction)."""
    root = math.sqrt(n)
    lam = (root + 0.12 + 0.11 / root) * d
    if lam < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 200):
        term = 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-16:
            break
    return min(1.0, max(0.0, total))


# --- 1. the floats ---------------------------------------------------------------------------------


def draw_units(count: int) -> list[int]:
    from apps.games import fairness

    server_seed, client_seed = fairness.new_server_seed(), fairness.new_client_seed()
    per_block = 8  # one HMAC-SHA256 block = 32 bytes = 8 floats
    units: list[int] = []
    nonce = 0
    while len(units) < count:
        units.extend(fairness.round_units(server_seed, client_seed, nonce, per_block))
        nonce += 1
    return units[:count]


def uniformity(count: int) -> None:
    started = time.perf_counter()
    units = draw_units(count)
    bins = 100
    observed = [0] * bins
    for unit in units:
        observed[(unit * bins) >> 32] += 1
    expected = count / bins
    chi2 = sum((o - expected) ** 2 / expected for o in observed)
    chi2_p = gamma_q((bins - 1) / 2, chi2 / 2)

    scale = float(1 << 32)
    floats = sorted(unit / scale for unit in units)
    d = max(max((i + 1) / count - f, f - i / count) for i, f in enumerate(floats))
    ks_p = kolmogorov_p(d, count)

    print(f"1. Uniformity of {count:,} floats ({time.perf_counter() - started:.1f}s)")
    print(f"   chi-square, {bins} bins (df {bins - 1}): statistic {chi2:.2f}, p-value {chi2_p:.4f}")
    print(f"   Kolmogorov-Smirnov vs U(0,1):      D = {d:.6f}, p-value {ks_p:.4f}")
    verdict = "consistent with uniform" if min(chi2_p, ks_p) >= 0.001 else "NOT consistent with uniform (rerun; investigate if repeated)"
    print(f"   -> {verdict} at the 0.1% level")


# --- 2. simulated RTP ------------------------------------------------------------------------------


def simulate(count: int) -> None:
    from apps.games import fairness
    from apps.games.engines import ENGINES
    from apps.games.seed import HOUSE_GAMES

    stake = 1_000_000  # large, so rounding payouts down to the minor unit does not show in the sample
    print()
    print(f"2. Simulated RTP over {count:,} rounds per game (default choices, stake {stake:,} minor units)")
    print(f"   {'game':<12} {'target':>8} {'simulated':>10} {'99% band':>19} {'inside':>7} {'seconds':>8}")
    for slug, _, kind, rtp, _ in HOUSE_GAMES:
        engine = ENGINES[kind]
        choices = engine.default_choices()
        server_seed, client_seed = fairness.new_server_seed(), fairness.new_client_seed()
        started = time.perf_counter()
        paid = 0
        for nonce in range(count):
            units = fairness.round_units(server_seed, client_seed, nonce, engine.floats)
            paid += engine.play(units=units, stake_minor=stake, rtp=rtp, choices=choices).payout_minor
        simulated = paid / (stake * count) * 100
        sigma = math.sqrt(engine.variance_per_unit(rtp=Decimal(rtp), choices=choices)) * 100
        half = 2.576 * sigma / math.sqrt(count)
        low, high = float(rtp) - half, float(rtp) + half
        inside = "yes" if low <= simulated <= high else "NO"
        band = f"{low:.3f}–{high:.3f}%"
        print(f"   {slug:<12} {rtp:>7}% {simulated:>9.3f}% {band:>19} {inside:>7} {time.perf_counter() - started:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floats", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1_000_000)
    args = parser.parse_args()
    setup()
    uniformity(args.floats)
    simulate(args.rounds)


if __name__ == "__main__":
    main()
