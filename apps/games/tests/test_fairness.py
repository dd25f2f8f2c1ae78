"""The randomness scheme of API.md, checked against values computed independently with hmac/hashlib."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from fractions import Fraction

from apps.games import fairness

SEED = "5b1d2c3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff0"
CLIENT = "player-seed"


def _independent_float(server_seed: str, client_seed: str, nonce: int, index: int) -> float:
    """The public verifiers' recipe, written out from API.md: HMAC blocks for cursor 0, 1, …, 4 bytes per float."""
    stream = b""
    cursor = 0
    while len(stream) < 4 * (index + 1):
        stream += hmac.new(server_seed.encode(), f"{client_seed}:{nonce}:{cursor}".encode(), hashlib.sha256).digest()
        cursor += 1
    b = stream[4 * index: 4 * index + 4]
    return b[0] / 256 + b[1] / 256**2 + b[2] / 256**3 + b[3] / 256**4


def test_known_vectors():
    """Fixed values, so any change to the scheme (byte order, message format, cursor) fails loudly."""
    assert fairness.seed_hash(SEED) == "7a6b958cbf466112c1d057d847c99f2797481a59aecc8350a70a3c4c2f5b88a6"
    assert [fairness.round_units(SEED, CLIENT, nonce, 1)[0] for nonce in (0, 1, 2)] == [0x37928D19, 0xF2ACCF45, 0x2599EBE3]
    assert [math.floor(_independent_float(SEED, CLIENT, n, 0) * 10001) for n in (0, 1, 2)] == [2171, 9480, 1468]
    assert [fairness.scaled(u, 10001) for u in (0x37928D19, 0xF2ACCF45, 0x2599EBE3)] == [2171, 9480, 1468]


def test_floats_match_the_independent_recipe_including_past_the_first_hmac_block():
    for nonce in range(20):
        ours = fairness.round_floats(SEED, CLIENT, nonce, 10)  # 10 floats: the 9th and 10th come from cursor 1
        for index, value in enumerate(ours):
            assert value == Fraction(_independent_float(SEED, CLIENT, nonce, index))


def test_integer_mapping_equals_the_float_formula():
    """floor(f × N) from the integer form equals the verifiers' float arithmetic for the games' N."""
    for nonce in range(200):
        unit = fairness.round_units(SEED, CLIENT, nonce, 1)[0]
        f = unit / 2**32
        for buckets in (10001, 37, 20):
            assert fairness.scaled(unit, buckets) == math.floor(f * buckets)


def test_server_seeds_are_64_lowercase_hex_and_fresh():
    seeds = {fairness.new_server_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", seed) for seed in seeds)
