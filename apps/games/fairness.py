"""Provably fair randomness (API.md, "Randomness"): the scheme public verifiers already implement.

- The server seed is 32 bytes from the OS CSPRNG (`secrets`), written as 64 lowercase hex characters;
  its commitment is the hex SHA-256 of those 64 ASCII characters, shown before the first bet.
- Round `nonce`'s bytes are HMAC_SHA256(key=server seed string, msg=f"{client_seed}:{nonce}:{cursor}")
  for cursor = 0, 1, 2, … concatenated; each float takes the next 4 bytes,
  f = b0/256 + b1/256² + b2/256³ + b3/256⁴ ∈ [0, 1).

Floats are kept as 32-bit integers (f = n / 2³²) so every mapping is exact integer arithmetic:
floor(f × N) = (n × N) >> 32, which is also what a JavaScript verifier's Math.floor(f * N) gives
(n × N has at most 32 + log2(N) bits, exact in a double for any N below 2²¹).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from fractions import Fraction

FLOAT_BYTES = 4
SCALE = 1 << 32


def new_server_seed() -> str:
    return secrets.token_bytes(32).hex()


def new_client_seed() -> str:
    return secrets.token_hex(8)


def seed_hash(server_seed: str) -> str:
    return hashlib.sha256(server_seed.encode("ascii")).hexdigest()


def round_bytes(server_seed: str, client_seed: str, nonce: int) -> Iterator[int]:
    """The round's byte stream, one HMAC block (32 bytes) per cursor, as long as the game needs."""
    cursor = 0
    while True:
        block = hmac.new(server_seed.encode("ascii"), f"{client_seed}:{nonce}:{cursor}".encode(), hashlib.sha256).digest()
        yield from block
        cursor += 1


def round_units(server_seed: str, client_seed: str, nonce: int, count: int) -> list[int]:
    """The round's first `count` floats as integers n with f = n / 2³² (big-endian: b0 is the most significant)."""
    stream = round_bytes(server_seed, client_seed, nonce)
    units = []
    for _ in range(count):
        b0, b1, b2, b3 = (next(stream) for _ in range(FLOAT_BYTES))
        units.append((b0 << 24) | (b1 << 16) | (b2 << 8) | b3)
    return units


def round_floats(server_seed: str, client_seed: str, nonce: int, count: int) -> list[Fraction]:
    """The same floats as exact fractions, for display and for verifiers that want the number itself."""
    return [Fraction(n, SCALE) for n in round_units(server_seed, client_seed, nonce, count)]


def scaled(unit: int, buckets: int) -> int:
    """floor(f × buckets) for f = unit / 2³², exactly."""
    return (unit * buckets) >> 32
