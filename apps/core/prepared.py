"""Querysets compiled once per process, for the few reads every API request makes.

Every player request reads its user and player (JWT authentication) and most read a wallet. Building
that SQL from a QuerySet (select_related over 42 columns: get_select, get_related_selections, quoting)
cost more CPU than PostgreSQL spends answering it: about half of GET /api/v1/wallet's server time
(cProfile, README "Web servers"). A PreparedQuery builds the queryset once with marker values for its
parameters, keeps the compiled SQL, the select list and Django's own row-to-instance plan (klass_info,
related populators, converters), and afterwards only executes and builds instances. The instances are
the ones the queryset would give: same fields, related objects cached the same way (a test pins both).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

from . import dbcall

_INT_MARK = -7_350_123_401


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (index in params, argument name)
    model: type[Model]
    fields: slice
    init_list: list[str]
    populators: list[Any]
    converters: dict[int, Any]
    compiler: Any


class PreparedQuery:
    """`build(**marks)` must return a QuerySet that uses every argument exactly once as a query parameter.

    Arguments are ints (`ints`) or strings (`strs`); anything else is not supported.
    """

    def __init__(self, build: Callable[..., QuerySet], *, ints: tuple[str, ...] = (), strs: tuple[str, ...] = ()):
        self.build = build
        self.ints, self.strs = ints, strs
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _marks(self) -> dict[str, Any]:
        marks: dict[str, Any] = {name: _INT_MARK - n for n, name in enumerate(self.ints)}
        marks.update({name: f"\x1fprepared:{name}\x1f" for name in self.strs})
        return marks

    def _compile(self, using: str) -> _Compiled:
        marks = self._marks()
        queryset = self.build(**marks)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        slots = []
        for name, mark in marks.items():
            found = [i for i, value in enumerate(params) if value == mark and type(value) is type(mark)]
            if len(found) != 1:
                raise ValueError(f"PreparedQuery: argument {name!r} appears {len(found)} times among the parameters.")
            slots.append((found[0], name))
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            model=klass_info["model"],
            fields=slice(start, end),
            init_list=[f[0].target.attname for f in select[start:end]],
            populators=get_related_populators(klass_info, select, using),
            converters=compiler.get_converters([s[0] for s in select]),
            compiler=compiler,
        )

    def compiled(self, using: str = "default") -> _Compiled:
        key = (using, connections[using].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(using)
                self._compiled[key] = compiled
        return compiled

    def all(self, using: str = "default", **arguments: Any) -> list[Model]:
        compiled = self.compiled(using)
        params = list(compiled.params)
        for index, name in compiled.slots:
            value = arguments[name]
            if name in self.ints and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"{name} must be an int.")
            if name in self.strs and not isinstance(value, str):
                raise TypeError(f"{name} must be a str.")
            params[index] = value
        if using == DEFAULT_DB_ALIAS:
            rows = dbcall.fetch(compiled.sql, params)  # prepared once per connection on PostgreSQL
        else:  # pragma: no cover - the project has one database
            with connections[using].cursor() as cursor:
                cursor.execute(compiled.sql, params)
                rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        objects = []
        for row in rows:
            obj = compiled.model.from_db(using, compiled.init_list, row[compiled.fields])
            for populator in compiled.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def first(self, using: str = "default", **arguments: Any) -> Model | None:
        found = self.all(using, **arguments)
        return found[0] if found else None
