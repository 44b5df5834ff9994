"""Statements of the hot reads compiled to SQL text once per shape, and run as that text.

A list the surfaces ask for many times a second (a page of runs, its metric summaries, its
child counts) is built with SQLAlchemy's expressions, which write the SQL of both databases.
Built and compiled at every call, the expression costs more of the client's CPU than the
database's answer does: generating its cache key, binding its values and wrapping the rows
(a page of 100 runs' summaries on PostgreSQL: 0.72 ms of client CPU, of which the driver
needs 0.28). So each such statement is named by its *shape* — which filters it has, not
their values — built once per shape with every varying value as a named parameter, and
compiled to text; later calls pass the values only.

The rule that keeps this right: a value that varies between two calls of one shape is a
named parameter (``bindparam(name, None)``), never a constant of the expression. The
constants of an expression (a status list or a page size fixed by the shape) are written
into its text: PostgreSQL plans a prepared statement once for all its calls only when it
can cost that plan, and with a page's LIMIT or a status list as parameters it could not,
so it planned every call anew — half the server's work for a first page of 1M runs (0.26
-> 0.12 ms of its CPU). A list whose best plan depends on a value (how many runs hold a
searched text) keeps that value, its LIMIT too, a parameter: the server plans each call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Hashable
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.expression import Executable

# Shapes are few (the filters a list can combine); the bound keeps a caller that makes
# new ones without end from growing the cache.
MAX_SHAPES = 1000


class CompiledStatements:
    """SQL text per shape, and the values of the parameters the dialect adds to it, for one
    database's dialect.

    Args:
        dialect: the dialect to compile for, with named parameters (``:name`` on SQLite,
            ``%(name)s`` on psycopg), so that values are passed as one dict.
    """

    def __init__(self, dialect: Any) -> None:
        self._dialect = dialect
        self._texts: dict[Hashable, tuple[str, dict[str, Any]]] = {}

    def get(self, shape: Hashable, build: Callable[[], Executable]) -> tuple[str, dict[str, Any]]:
        """The text of the statement ``build()`` makes for ``shape``, and the values of the
        parameters its dialect adds (SQLite's OFFSET of a page with a LIMIT)."""
        found = self._texts.get(shape)
        if found is None:
            # The constants are written out, and the parameters without a value yet
            # compile as placeholders.
            statement = visitors.replacement_traverse(build(), {}, _written)  # type: ignore[call-overload]
            compiled = statement.compile(
                dialect=self._dialect, compile_kwargs={"render_postcompile": True}
            )
            added = {k: v for k, v in compiled.params.items() if v is not None}
            if len(self._texts) >= MAX_SHAPES:
                self._texts.clear()
            found = self._texts[shape] = (compiled.string, added)
        return found


def _written(element: Any, **_: Any) -> Any:
    """A constant of a statement as a literal of its text (None: leave it as it is)."""
    if isinstance(element, BindParameter) and element.value is not None:
        return element.render_literal_execute()
    return None


def any_of(
    column: ColumnElement[Any], name: str, sqlite: bool, item: Any = String
) -> ColumnElement[bool]:
    """``column IN`` the list passed as parameter ``name`` (made by ``list_value``), one
    statement whatever the list's length: on PostgreSQL ``= ANY(array)`` of ``item``s, on
    SQLite the members of a JSON array."""
    if sqlite:
        members: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam(name, None, type_=String))
        )
        return column.in_(members)
    return column == any_(bindparam(name, None, type_=ARRAY(item)))


def list_value(values: Collection[Any], sqlite: bool) -> Any:
    """The parameter of an ``any_of`` condition."""
    return json.dumps(list(values)) if sqlite else list(values)
