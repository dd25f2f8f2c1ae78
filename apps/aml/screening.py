"""Sanctions and PEP screening: a list loaded from a file, fuzzy name + date-of-birth matching, alerts that freeze.

EU AMLD art. 18a / the EU financial sanctions regulations: no funds may be made available to a listed
person, so a match freezes withdrawals until an officer clears it. Names on lists and in sign-ups are
spelt in many ways (transliteration, typos, word order), so names match fuzzily (rapidfuzz's
token-sort ratio, threshold tunable on the "screening" rule) but the date of birth must be equal where
the list gives one: a namesake born on another day is another person.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from datetime import date
from pathlib import Path

from django.db import transaction
from lxml import etree
from rapidfuzz import fuzz, process

from apps.core import clock
from apps.players.models import Player

from .models import DEFAULT_SCREENING_THRESHOLD, AmlAlert, AmlRule, RuleKind, ScreeningEntry, ScreeningEntryKind, ScreeningList, Watermark
from .rules import Hit
from .services import hits_record

SCREENING_WATERMARK = "aml.screening"


def normalize_name(name: str) -> str:
    """Lower case, accents off, punctuation to spaces: "José  O'Neill-Díaz" → "jose o neill diaz"."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.lower().split())


def _parse_date(raw: str | None) -> date | None:
    raw = (raw or "").strip()
    return date.fromisoformat(raw) if raw else None


def _kind(raw: str | None) -> str:
    raw = (raw or "").strip().lower()
    return ScreeningEntryKind.PEP if raw == "pep" else ScreeningEntryKind.SANCTION


def parse_csv(text: str) -> list[dict]:
    """Columns id, name, date_of_birth (YYYY-MM-DD, may be empty), kind (sanction|pep), country."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({
            "source_id": row["id"].strip(), "name": row["name"].strip(), "date_of_birth": _parse_date(row.get("date_of_birth")),
            "kind": _kind(row.get("kind")), "country": (row.get("country") or "").strip().upper()[:2],
        })
    return rows


def parse_xml(data: bytes) -> list[dict]:
    """A simple consolidated-list shape: <list><entity id=".." kind="sanction|pep"><name>..</name>
    <alias>..</alias>*<birthdate>YYYY-MM-DD</birthdate><country>XX</country></entity></list>.
    Each alias is an entry of its own (id#n), because lists record the spellings a person uses."""
    # No entities, no network: a list file is input from outside, and XML entities are how such input attacks a parser.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser=parser)
    rows = []
    for entity in root.iter("entity"):
        base = {
            "date_of_birth": _parse_date(entity.findtext("birthdate")), "kind": _kind(entity.get("kind")),
            "country": (entity.findtext("country") or "").strip().upper()[:2],
        }
        names = [entity.findtext("name") or "", *(alias.text or "" for alias in entity.iter("alias"))]
        for n, name in enumerate(name.strip() for name in names):
            if name:
                rows.append({**base, "source_id": entity.get("id", "") + (f"#{n}" if n else ""), "name": name})
    return rows


@transaction.atomic
def screening_list_load(*, path: Path, name: str = "", fmt: str = "") -> tuple[ScreeningList, bool]:
    """Replace a list's entries with the file's; returns the list and whether its content changed.

    A changed list is re-screened against every player after commit (the daily task would find it too).
    """
    data = Path(path).read_bytes()
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt == "csv":
        rows = parse_csv(data.decode("utf-8-sig"))
    elif fmt == "xml":
        rows = parse_xml(data)
    else:
        raise ValueError("Use a .csv or .xml file, or say --format.")
    digest = hashlib.sha256(data).hexdigest()
    name = name or Path(path).stem
    screening_list = ScreeningList.objects.select_for_update().filter(name=name).first()
    if screening_list is not None and screening_list.sha256 == digest:
        return screening_list, False
    if screening_list is None:
        screening_list = ScreeningList(name=name)
    screening_list.sha256 = digest
    screening_list.source = str(path)[:255]
    screening_list.entries_count = len(rows)
    screening_list.loaded_at = clock.now()
    screening_list.save()
    screening_list.entries.all().delete()
    ScreeningEntry.objects.bulk_create(
        ScreeningEntry(screening_list=screening_list, normalized_name=normalize_name(row["name"]), **row) for row in rows
    )
    from . import tasks  # the task module imports this one
    from .apps import enqueue

    transaction.on_commit(lambda: enqueue(tasks.rescreen_if_list_changed))
    return screening_list, True


def _variants(normalized: str) -> list[str]:
    """The name as listed, and without its middle names: lists carry patronymics and second given names
    that a player rarely types at sign-up ("viktor anatolyevich grekhov" is also "viktor grekhov")."""
    tokens = normalized.split()
    return [normalized, f"{tokens[0]} {tokens[-1]}"] if len(tokens) > 2 else [normalized]


def _rule() -> AmlRule | None:
    return AmlRule.objects.filter(kind=RuleKind.SCREENING, enabled=True).first()


def screen_players(*, player_ids: list[int] | None = None) -> list[AmlAlert]:
    """Match players (all when None) against every loaded entry; a match opens or joins a `screening` alert.

    The date of birth is compared in SQL first, so only players born on a listed date (or entries
    without one) reach the fuzzy comparison.
    """
    rule = _rule()
    if rule is None:
        return []
    cutoff = float((rule.ratio or DEFAULT_SCREENING_THRESHOLD) * 100)
    entries = list(ScreeningEntry.objects.select_related("screening_list").values(
        "id", "source_id", "name", "normalized_name", "date_of_birth", "kind", "screening_list__name"))
    if not entries:
        return []
    by_dob: dict[date | None, list[dict]] = {}
    for entry in entries:
        by_dob.setdefault(entry["date_of_birth"], []).append(entry)
    players = Player.objects.all()
    if player_ids is not None:
        players = players.filter(pk__in=player_ids)
    if None not in by_dob:
        players = players.filter(date_of_birth__in=[d for d in by_dob if d is not None])
    hits = []
    for player in players.select_related("user").only("id", "date_of_birth", "second_surname", "user__first_name", "user__last_name"):
        full_name = normalize_name(" ".join(filter(None, [player.user.first_name, player.user.last_name, player.second_surname])))
        if not full_name:
            continue
        candidates = [(variant, entry) for entry in by_dob.get(player.date_of_birth, []) + by_dob.get(None, [])
                      for variant in _variants(entry["normalized_name"])]
        matched: dict[int, float] = {}
        for _, similarity, index in process.extract(full_name, [variant for variant, _ in candidates],
                                                    scorer=fuzz.token_sort_ratio, score_cutoff=cutoff, limit=10):
            entry = candidates[index][1]
            if similarity > matched.get(entry["id"], -1):
                matched[entry["id"]] = similarity
        for entry_id, similarity in matched.items():
            entry = next(entry for _, entry in candidates if entry["id"] == entry_id)
            hits.append(Hit(player.pk, RuleKind.SCREENING, f"{entry['screening_list__name']}:{entry['source_id']}"[:200], rule.score, {
                "list": entry["screening_list__name"], "entry_id": entry["source_id"], "listed_name": entry["name"],
                "listed_kind": entry["kind"],
                "listed_date_of_birth": entry["date_of_birth"].isoformat() if entry["date_of_birth"] else None,
                "player_name": full_name, "similarity": round(similarity, 1), "threshold": cutoff,
            }))
    return hits_record(hits=hits)


def _lists_version() -> str:
    return hashlib.sha256("|".join(ScreeningList.objects.order_by("name").values_list("sha256", flat=True)).encode()).hexdigest()


def rescreen_if_list_changed() -> int:
    """The daily re-screen of everyone, when (and only when) a list changed since the last one."""
    version = _lists_version()
    Watermark.objects.get_or_create(name=SCREENING_WATERMARK)
    with transaction.atomic():
        mark = Watermark.objects.select_for_update().get(name=SCREENING_WATERMARK)
        if mark.value == version:
            return 0
        alerts = screen_players()
        mark.value = version
        mark.save()
    return len(alerts)
