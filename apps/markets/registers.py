"""National self-exclusion registers: one client interface, a sandbox, and the seams for GAMSTOP and RGIAJ.

A market names its register (`Market.national_register`); NATIONAL_REGISTER_CLIENTS maps a register code
to a client class (dotted path). Only the sandbox exists: it reads NationalRegisterEntry rows compliance
edits in the admin. The real clients are placeholders that refuse to run, so a deployment cannot believe
it checks GAMSTOP (UK, LCCP SR 3.5.4) or RGIAJ (Spain, Ley 13/2011 art. 22) while it does not.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.identity import normalise_identity_text

from .models import Market, NationalRegisterEntry

DEFAULT_CLIENTS = {"gamstop": "apps.markets.registers.SandboxRegister", "rgiaj": "apps.markets.registers.SandboxRegister"}


class NationalRegisterClient(Protocol):
    def __init__(self, code: str) -> None: ...

    def is_excluded(self, *, first_name: str, last_name: str, date_of_birth: date, id_document_number: str = "") -> bool:
        """True if the register names this person. A client that cannot answer raises; callers fail closed."""
        ...


class SandboxRegister:
    def __init__(self, code: str) -> None:
        self.code = code

    def is_excluded(self, *, first_name: str, last_name: str, date_of_birth: date, id_document_number: str = "") -> bool:
        norm = normalise_identity_text
        document = norm(id_document_number)
        for entry in NationalRegisterEntry.objects.filter(register=self.code):
            if document and norm(entry.id_document_number) == document:
                return True
            if (norm(entry.first_name), norm(entry.last_name), entry.date_of_birth) == (norm(first_name), norm(last_name), date_of_birth):
                return True
        return False


class GamstopClient:
    """Seam: GAMSTOP's API (UK). Not implemented; point NATIONAL_REGISTER_CLIENTS["gamstop"] here once it is."""

    def __init__(self, code: str) -> None:
        raise NotImplementedError("The GAMSTOP client is not implemented; use the sandbox.")


class RgiajClient:
    """Seam: the DGOJ's RGIAJ web service (Spain). Not implemented."""

    def __init__(self, code: str) -> None:
        raise NotImplementedError("The RGIAJ client is not implemented; use the sandbox.")


def register_client(code: str) -> NationalRegisterClient:
    paths = {**DEFAULT_CLIENTS, **getattr(settings, "NATIONAL_REGISTER_CLIENTS", {})}
    return import_string(paths[code])(code)


def identity_on_national_register(
    market: str, *, first_name: str, last_name: str, date_of_birth: date, id_document_number: str = ""
) -> bool:
    code = Market.objects.filter(code=market).values_list("national_register", flat=True).first()
    if not code:
        return False
    return register_client(code).is_excluded(
        first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, id_document_number=id_document_number
    )
