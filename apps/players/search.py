"""Finding a player the way staff type it: part of an email, a name without its accents, a phone as written, an id.

The same three SQL functions exist on both databases, so one ORM query serves both:

- `casino_fold(text)`: lower case, accents removed ("José Núñez" → "jose nunez"). PostgreSQL: an IMMUTABLE
  wrapper around the `unaccent` extension (unaccent itself is only STABLE, so it cannot be indexed);
  SQLite (the demo): a Python function registered on every new connection.
- `casino_fold_name(first, last)`: `casino_fold(first || ' ' || last)`, the indexed full name.
- `casino_digits(text)`: only the digits of a phone number, so "+44 7700 900123" finds "07700900123"'s digits.

On PostgreSQL each expression has a trigram GIN index (`pg_trgm`, migration players.0007), which answers
`LIKE '%term%'` without reading the table: that is what keeps a search under 2 s on 100,000 players
(`make bench`, bench/players_search.py).
"""

from __future__ import annotations

import unicodedata

from django.db.models import F, Func, TextField

# Letters that NFKD does not decompose but unaccent (PostgreSQL's default rules) folds.
_EXTRA_FOLDS = str.maketrans({"ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
                              "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def fold(text: str | None) -> str | None:
    """Python twin of PostgreSQL's casino_fold, for SQLite and for the search term itself."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def fold_name(first: str | None, last: str | None) -> str | None:
    if first is None or last is None:
        return None
    return fold(f"{first} {last}")


def digits(text: str | None) -> str | None:
    if text is None:
        return None
    return "".join(char for char in text if char.isdigit() and char.isascii())


class FoldedName(Func):
    function = "casino_fold_name"
    output_field = TextField()

    def __init__(self, first: str = "user__first_name", last: str = "user__last_name") -> None:
        super().__init__(F(first), F(last))


class PhoneDigits(Func):
    function = "casino_digits"
    output_field = TextField()

    def __init__(self, field: str = "phone") -> None:
        super().__init__(F(field))


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """connection_created: give every SQLite connection the functions PostgreSQL gets from the migration."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("casino_fold", 1, fold, deterministic=True)
    raw.create_function("casino_fold_name", 2, fold_name, deterministic=True)
    raw.create_function("casino_digits", 1, digits, deterministic=True)


# PostgreSQL: the functions and the trigram indexes (migration players.0007 runs these).
POSTGRES_SETUP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE OR REPLACE FUNCTION casino_fold(value text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, value)) $$""",
    """CREATE OR REPLACE FUNCTION casino_fold_name(first text, last text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT casino_fold(first || ' ' || last) $$""",
    """CREATE OR REPLACE FUNCTION casino_digits(value text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT regexp_replace(value, '[^0-9]', '', 'g') $$""",
    "CREATE INDEX IF NOT EXISTS players_user_name_trgm ON players_user USING gin (casino_fold_name(first_name, last_name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS players_user_email_trgm ON players_user USING gin (email gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS players_player_phone_trgm ON players_player USING gin (casino_digits(phone) gin_trgm_ops)",
]
POSTGRES_TEARDOWN = [
    "DROP INDEX IF EXISTS players_player_phone_trgm",
    "DROP INDEX IF EXISTS players_user_email_trgm",
    "DROP INDEX IF EXISTS players_user_name_trgm",
    "DROP FUNCTION IF EXISTS casino_digits(text)",
    "DROP FUNCTION IF EXISTS casino_fold_name(text, text)",
    "DROP FUNCTION IF EXISTS casino_fold(text)",
]
