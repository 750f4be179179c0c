"""``column IN (values)`` for a list bound at run time, in the form each database runs best.

SQLite takes an expanding ``IN`` (one parameter per value). On PostgreSQL the same test is
``column IN (SELECT unnest(:values))``: one array parameter, so the statement's text is the
same whatever the batch's size (psycopg prepares it once per connection), and the planner joins
the array's values against the column's index, or hashes them, whether or not the table has
been analyzed. An ``IN`` list of 256 parameters (or ``= ANY(:values)``) is tested value by
value against every row the plan reads: before PostgreSQL analyzes a freshly filled
``work_items`` (autovacuum off, or not yet run) the active-items lookup of a batch read every
active item through the status index and took 11.2 ms (6.1 with ``= ANY``) against 0.60 ms in
this form; after ``ANALYZE`` 0.77 against 0.58 (docs/results.md). Statements are built once per
form at import (:class:`PerDialect`) and picked per session.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Dialect, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session

StatementT = TypeVar("StatementT")
Column = ColumnElement[Any] | QueryableAttribute[Any]
"""A table's column, or a mapped class's attribute for it."""
OneOf = Callable[[Column, str], ColumnElement[bool]]
"""``one_of(column, name)``: ``column`` equals one of the values bound as ``name``."""


def _in_expanding(column: Column, name: str) -> ColumnElement[bool]:
    return _element(column).in_(bindparam(name, expanding=True))


def _in_unnested_array(column: Column, name: str) -> ColumnElement[bool]:
    element = _element(column)
    return element.in_(select(func.unnest(bindparam(name, type_=ARRAY(element.type)))))


def _element(column: Column) -> ColumnElement[Any]:
    return column.expression if isinstance(column, QueryableAttribute) else column


@dataclass(frozen=True, slots=True)
class PerDialect(Generic[StatementT]):
    """One statement in both forms; :meth:`for_session` picks the one the session's database
    runs. Both bind the values the same way: a Python list under the given name."""

    expanding: StatementT
    array: StatementT

    @classmethod
    def build(cls, make: Callable[[OneOf], StatementT]) -> "PerDialect[StatementT]":
        return cls(expanding=make(_in_expanding), array=make(_in_unnested_array))

    def for_session(self, session: Session) -> StatementT:
        return self.for_dialect(session.get_bind().dialect)

    def for_dialect(self, dialect: Dialect) -> StatementT:
        return self.array if dialect.name == "postgresql" else self.expanding
