"""Normalising a person's names and document numbers, so the same person matches whatever they type."""

from __future__ import annotations

import re
import unicodedata


def normalise_identity_text(text: str) -> str:
    """Case, accents, spaces and punctuation do not make another person: "José  García-López" = "josegarcialopez"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z]+", "", letters)
