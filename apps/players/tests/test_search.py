"""Finding a player as staff type it: part of an email, a name without accents, a phone as written, an id."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.players.models import Player
from apps.players.search import digits, fold, fold_name
from apps.players.selectors import player_search

pytestmark = pytest.mark.django_db


def found(term: str) -> set[int]:
    return set(player_search(Player.objects.all(), term).values_list("pk", flat=True))


@pytest.fixture
def people(make_player):
    return {
        "jose": make_player(email="jnunez@example.es", first_name="José", last_name="Núñez", phone="+34 600 123 456"),
        "anna": make_player(email="anna.schmidt@example.de", first_name="Anna", last_name="Schmidt", phone="(0151) 2345-6789"),
        "zoe": make_player(email="zoe@example.fr", first_name="Zoë", last_name="Straße", phone=""),
    }


def test_name_search_ignores_accents_and_case(people):
    assert found("jose nunez") == {people["jose"].pk}
    assert found("NÚÑEZ") == {people["jose"].pk}
    assert found("strasse") == {people["zoe"].pk}  # ß folds to ss, as PostgreSQL's unaccent does
    assert found("zoe") == {people["zoe"].pk}


def test_part_of_an_email_finds_the_player(people):
    assert found("schmidt@example") == {people["anna"].pk}
    assert found("ANNA.SCHMIDT@EXAMPLE.DE") == {people["anna"].pk}


@pytest.mark.parametrize("typed", ["+34 600 123 456", "600123456", "0034600123456"[4:], "600 123 45", "600-123"])
def test_a_phone_is_found_however_it_is_written(people, typed):
    assert people["jose"].pk in found(typed)
    assert people["anna"].pk not in found(typed)


def test_a_phone_with_brackets_and_dashes(people):
    assert found("0151 23456789") == {people["anna"].pk}


def test_ids_find_exactly_one_player(people):
    anna = people["anna"]
    assert found(str(anna.public_id)) == {anna.pk}
    assert anna.pk in found(str(anna.pk))


def test_no_match_and_empty_term(people):
    assert found("nobody-like-this") == set()
    assert found("   ") == {p.pk for p in people.values()}


def test_like_wildcards_in_the_term_are_literal(people):
    assert found("%") == set()
    assert found("_") == set()


def test_database_fold_agrees_with_the_python_twin():
    """The SQLite demo uses the Python functions; PostgreSQL its own: both must fold alike."""
    samples = ["José Núñez", "Zoë Straße", "Łukasz Żółć", "ÆØÅ æøå", "Çağlar İnce"]
    with connection.cursor() as cursor:
        for sample in samples:
            cursor.execute("SELECT casino_fold(%s), casino_digits(%s)", [sample, "+44 (0) 7700-900 123"])
            folded, phone = cursor.fetchone()
            assert folded == fold(sample), sample
            assert phone == digits("+44 (0) 7700-900 123") == "4407700900123"
    assert fold_name("José", "Núñez") == "jose nunez"


def test_trigram_indexes_exist():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", ["players_%_trgm"])
        names = {row[0] for row in cursor.fetchall()}
    assert names == {"players_user_name_trgm", "players_user_email_trgm", "players_player_phone_trgm"}
