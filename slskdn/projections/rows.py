"""Batch writes shared by projections: add counters and set fields per key, portably."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    key: str,
    changes: Mapping[Any, tuple[Mapping[str, int], Mapping[str, Any]]],
) -> None:
    """For each key value: add the integer deltas (counters) and set the plain values.

    Written as select + insert/update rather than a dialect's ON CONFLICT so that the same
    code runs on SQLite and PostgreSQL; callers hold the only writer of these rows.
    """
    if not changes:
        return
    key_column = table.c[key]
    existing: dict[Any, dict[str, Any]] = {}
    keys = list(changes)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for row in conn.execute(sa.select(table).where(key_column.in_(chunk))).mappings():
            existing[row[key]] = dict(row)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    counter_columns = [c.name for c in table.columns if c.name != key and _is_counter(c)]
    for value, (deltas, sets) in changes.items():
        current = existing.get(value)
        if current is None:
            new = {name: 0 for name in counter_columns}
            new.update(deltas)
            new.update(sets)
            new[key] = value
            inserts.append(new)
        else:
            for name, delta in deltas.items():
                current[name] = (current[name] or 0) + delta
            current.update(sets)
            updates.append(current)
    if inserts:
        columns = sorted({name for row in inserts for name in row})
        conn.execute(table.insert(), [{c: row.get(c) for c in columns} for row in inserts])
    if updates:
        statement = (
            table.update()
            .where(key_column == sa.bindparam("_key"))
            .values({c.name: sa.bindparam(c.name) for c in table.columns if c.name != key})
        )
        conn.execute(statement, [{**row, "_key": row[key]} for row in updates])


def _is_counter(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.Integer | sa.BigInteger) and not column.nullable
