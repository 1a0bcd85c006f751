"""Saved segments in the operational store (SQLite or PostgreSQL): names, versions, audit.

A segment is a name and a list of immutable versions. Saving an expression that differs from
the latest version (in canonical text or description) appends a version; saving the same one
again changes nothing. Every new version is written with its audit entry in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn

import sqlalchemy as sa

from lodestar.errors import SegmentError
from lodestar.segments.catalogue import suggest
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import segment_versions, segments

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class SegmentVersion:
    name: str
    version: int
    expression: str
    description: str | None
    count_at_save: int
    population_at_save: int
    data_as_of: date | None
    created_at: datetime
    created_by: str

    @property
    def share_at_save(self) -> float:
        return self.count_at_save / self.population_at_save if self.population_at_save else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "expression": self.expression,
            "description": self.description, "count_at_save": self.count_at_save,
            "population_at_save": self.population_at_save, "data_as_of": self.data_as_of,
            "created_at": self.created_at, "created_by": self.created_by,
        }  # fmt: skip


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SegmentError("seg.bad_name", name=name, hint_key="seg.hint.name")
    return name


def _version(row: Any) -> SegmentVersion:
    created = row["created_at"]
    if isinstance(created, datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # SQLite keeps no zone; we store UTC
    return SegmentVersion(
        name=row["name"], version=int(row["version"]), expression=row["expression"],
        description=row["description"], count_at_save=int(row["count_at_save"]),
        population_at_save=int(row["population_at_save"]), data_as_of=row["data_as_of"],
        created_at=created, created_by=row["created_by"],
    )  # fmt: skip


class SegmentStore:
    def __init__(self, ops: OperationalStore) -> None:
        self.ops = ops

    def names(self) -> list[str]:
        with self.ops.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(segments.c.name).order_by("name"))]

    def latest(self, name: str) -> SegmentVersion | None:
        j = segment_versions.join(
            segments,
            (segments.c.name == segment_versions.c.name)
            & (segments.c.latest_version == segment_versions.c.version),
        )
        q = sa.select(segment_versions).select_from(j).where(segments.c.name == name)
        with self.ops.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return _version(row) if row else None

    def get(self, name: str, version: int | None = None) -> SegmentVersion:
        """A version of a saved segment (the latest by default)."""
        latest = self.latest(name)
        if latest is None:
            self.unknown(name)
        if version is None or version == latest.version:
            return latest
        q = sa.select(segment_versions).where(
            (segment_versions.c.name == name) & (segment_versions.c.version == version)
        )
        with self.ops.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise SegmentError("seg.no_version", name=name, version=version, latest=latest.version)
        return _version(row)

    def unknown(self, name: str, **where: Any) -> NoReturn:
        close = suggest(name, self.names())
        raise SegmentError(
            "seg.unknown_segment", name=name,
            hint_key="seg.hint.did_you_mean" if close else "seg.hint.segments",
            options=", ".join(close), **where,
        )  # fmt: skip

    def versions(self, name: str) -> list[SegmentVersion]:
        q = (
            sa.select(segment_versions)
            .where(segment_versions.c.name == name)
            .order_by(segment_versions.c.version)
        )
        with self.ops.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q).mappings()]

    def all_latest(self) -> list[SegmentVersion]:
        j = segment_versions.join(
            segments,
            (segments.c.name == segment_versions.c.name)
            & (segments.c.latest_version == segment_versions.c.version),
        )
        q = sa.select(segment_versions).select_from(j).order_by(segment_versions.c.name)
        with self.ops.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q).mappings()]

    def save(
        self,
        name: str,
        expression: str,
        description: str | None,
        *,
        count: int,
        population: int,
        data_as_of: date | None,
        actor: str,
    ) -> tuple[SegmentVersion, bool]:
        """Append a version unless the latest one says the same; returns it and whether it is
        new."""
        check_name(name)
        now = datetime.now(UTC)
        with self.ops.begin() as conn:
            q = sa.select(segments).where(segments.c.name == name)
            if self.ops.dialect == "postgresql":
                q = q.with_for_update()
            head = conn.execute(q).mappings().first()
            before = None
            if head is not None:
                prev = (
                    conn.execute(
                        sa.select(segment_versions).where(
                            (segment_versions.c.name == name)
                            & (segment_versions.c.version == head["latest_version"])
                        )
                    )
                    .mappings()
                    .first()
                )
                assert prev is not None
                if prev["expression"] == expression and prev["description"] == description:
                    return _version(prev), False
                before = {"version": prev["version"], "expression": prev["expression"],
                          "description": prev["description"]}  # fmt: skip
                version = int(head["latest_version"]) + 1
                conn.execute(
                    sa.update(segments).where(segments.c.name == name)
                    .values(latest_version=version, updated_at=now)
                )  # fmt: skip
            else:
                version = 1
                conn.execute(sa.insert(segments).values(
                    name=name, latest_version=1, created_at=now, created_by=actor, updated_at=now
                ))  # fmt: skip
            row = {
                "name": name, "version": version, "expression": expression,
                "description": description, "count_at_save": count,
                "population_at_save": population, "data_as_of": data_as_of,
                "created_at": now, "created_by": actor,
            }  # fmt: skip
            conn.execute(sa.insert(segment_versions).values(**row))
            self.ops.audit(
                conn, actor=actor, action="segment.save", entity="segment", entity_id=name,
                before=before,
                after={"version": version, "expression": expression, "description": description,
                       "count": count, "population": population, "data_as_of": data_as_of},
            )  # fmt: skip
        return _version(row), True
