"""Validated, atomic loading of canonical data: files (``lodestar ingest``) and bundles of tables
(the synthetic bank, public-dataset connectors).

The path of every load:

1. read in bounded batches (:mod:`lodestar.data.readers`), apply the mapping, coerce and check
   each batch (:mod:`lodestar.data.validation`), and stage the typed rows as Parquet;
2. check what needs the whole load in the analytical engine: duplicate keys, references to rows
   stored before or staged in the same load;
3. if anything failed, raise :class:`~lodestar.errors.ValidationFailed` with the report and
   delete the staging: **nothing is written**;
4. otherwise write operational rows (consents) and the run record in one operational
   transaction, apply the analytical load in one DuckDB transaction inside it, and commit.

Loading the same file with the same mapping again is recognised by its fingerprint and does
nothing; loading changed rows replaces dimension rows (customers, products...) by key and skips
fact rows (transactions, events...) whose id is already stored.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lodestar.data.mapping import Mapping
from lodestar.data.readers import RowCounter, open_reader
from lodestar.data.schema import Entity, Store, any_entity
from lodestar.data.validation import (
    ValidationReport,
    Violation,
    check_columns,
    coerce_batch,
)
from lodestar.errors import ValidationFailed
from lodestar.storage.analytical import ROW_COLUMN, AnalyticalEngine, LoadStats
from lodestar.storage.operational import OperationalStore

#: progress(stage, done, total): stage is a short label, total may be None when unknown.
Progress = Callable[[str, int, int | None], None]


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


@dataclass(frozen=True)
class IngestResult:
    source: str
    kinds: tuple[str, ...]
    rows_read: int
    stats: dict[str, LoadStats]
    seconds: float
    run_id: int | None = None
    already_ingested: bool = False
    previous_run: dict[str, Any] | None = None
    #: events of this load that live campaigns listen to, put into the live event feed
    fed: int = 0

    def summary(self) -> str:
        if self.already_ingested:
            prev = self.previous_run or {}
            return (
                f"{self.source}: already ingested in run {prev.get('run_id')} "
                f"({prev.get('finished_at')}); nothing to do (use --force to load it again)"
            )
        parts = [
            f"{s.entity}: {s.rows:,} rows ({s.inserted:,} new, {s.updated:,} replaced, "
            f"{s.skipped:,} already present)"
            for s in self.stats.values()
        ]
        fed = f"; {self.fed:,} events to the live feed" if self.fed else ""
        return f"{self.source}: loaded in {self.seconds:.1f}s; " + "; ".join(parts) + fed


@dataclass
class _Staging:
    """Typed rows of one load, as Parquet files per entity, deleted after the load."""

    root: Path
    writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[pa.Table]] = field(default_factory=dict)

    #: Small batches are gathered into row groups of about this many rows.
    GROUP_ROWS = 131_072

    def write(self, entity: Entity, table: pa.Table, rows: np.ndarray) -> None:
        table = table.append_column(ROW_COLUMN, pa.array(rows, type=pa.int64()))
        self.rows[entity.name] = self.rows.get(entity.name, 0) + table.num_rows
        pending = self.pending.setdefault(entity.name, [])
        pending.append(table)
        if sum(t.num_rows for t in pending) >= self.GROUP_ROWS:
            self._flush(entity.name)

    def _flush(self, name: str) -> None:
        pending = self.pending.pop(name, [])
        if not pending:
            return
        table = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
        writer = self.writers.get(name)
        if writer is None:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / f"{name}.parquet"
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            self.writers[name] = writer
            self.paths[name] = path
        writer.write_table(table, row_group_size=max(self.GROUP_ROWS, table.num_rows))

    def close(self) -> None:
        for name in list(self.pending):
            self._flush(name)
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def files(self, name: str) -> list[Path]:
        path = self.paths.get(name)
        return [path] if path is not None else []

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)


class Loader:
    """One atomic load of one or more entities."""

    def __init__(
        self,
        engine: AnalyticalEngine,
        ops: OperationalStore,
        staging_root: Path,
        *,
        default_tz: str,
        actor: str,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.ops = ops
        self.default_tz = default_tz
        self.actor = actor
        self.progress = progress or _no_progress
        self.staging = _Staging(staging_root / f"load-{uuid.uuid4().hex[:12]}")
        self.reports: dict[str, ValidationReport] = {}
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC)
        #: called with the staging once the load committed, before it is deleted; returns how
        #: many events it put into the live event feed (the workspace sets it)
        self.after_apply: Callable[[_Staging], int] | None = None

    # -- step 1 ---------------------------------------------------------------------------
    def add_batch(
        self,
        entity: Entity,
        table: pa.Table,
        rows: np.ndarray,
        report: ValidationReport,
        *,
        null_values: tuple[str, ...] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if null_values is not None:
            kwargs["null_values"] = null_values
        typed = coerce_batch(
            table, entity, rows=rows, report=report, default_tz=self.default_tz, **kwargs
        )
        report.rows_read += table.num_rows
        # Staged even when rows failed: the whole-load checks (duplicates, references) then
        # report on every row. Nothing staged reaches the stores unless every check passed.
        self.staging.write(entity, typed, rows)

    def add_file(
        self, entity: Entity, path: Path, mapping: Mapping, report: ValidationReport
    ) -> None:
        self.reports[entity.name] = report
        mapping.check_against(entity)
        counter = RowCounter()
        size = path.stat().st_size
        checked_columns: set[str] = set()
        for raw in open_reader(path, mapping, report, counter):
            table = mapping.apply(raw.table, entity, raw.rows, report)
            new_columns = [c for c in table.column_names if c not in checked_columns]
            if not checked_columns or new_columns:
                check_columns(
                    table.column_names if not checked_columns else new_columns,
                    entity,
                    report,
                    set(mapping.ignore),
                )
                checked_columns.update(table.column_names)
            self.add_batch(entity, table, raw.rows, report, null_values=mapping.null_values)
            self.progress("read", raw.bytes_read, size)
        if report.ok and not self.staging.rows.get(entity.name):
            report.add(Violation.of("empty_file"))
        self.progress("read", size, size)

    def add_tables(
        self, items: Iterable[tuple[str, pa.Table]], source: str, expected_rows: int | None = None
    ) -> None:
        """Stage trusted-but-checked tables (generator, connectors); stop at the first error.
        ``expected_rows`` (an estimate) gives the progress bar its total."""
        next_row: dict[str, int] = {}
        done = 0
        for name, table in items:
            entity = any_entity(name)
            report = self.reports.setdefault(
                name, ValidationReport(source=f"{source}:{name}", kind=name)
            )
            if name not in next_row:
                check_columns(table.column_names, entity, report, set())
            first = next_row.get(name, 1)
            rows = np.arange(first, first + table.num_rows, dtype=np.int64)
            next_row[name] = first + table.num_rows
            self.add_batch(entity, table, rows, report)
            if not report.ok:
                raise ValidationFailed(report)
            done += table.num_rows
            total = max(expected_rows, done) if expected_rows else None
            self.progress("stage", done, total)

    # -- steps 2 to 4 -----------------------------------------------------------------------
    def commit(self, source: str, kind: str, fingerprint: str) -> IngestResult:
        try:
            self.staging.close()
            self._check_whole()
            failed = [r for r in self.reports.values() if not r.ok]
            if failed:
                raise ValidationFailed(failed[0])
            result = self._apply(source, kind, fingerprint)
            if self.after_apply is not None:
                result = replace(result, fed=self.after_apply(self.staging))
            return result
        finally:
            self.staging.discard()

    def _check_whole(self) -> None:
        # Give memory the reading phase cached back before the engine's joins need it.
        pa.default_memory_pool().release_unused()
        staged = [name for name, n in self.staging.rows.items() if n]
        for done, name in enumerate(staged):
            self.progress("check", done, len(staged))
            entity = any_entity(name)
            report = self.reports[name]
            files = self.staging.files(name)
            dup = self.engine.duplicate_keys(entity, files)
            for row, value, first in dup.examples:
                as_line = report.line_offset is not None
                report.add(
                    Violation.of(
                        "duplicate_key",
                        "duplicate_key.line" if as_line else "duplicate_key.row",
                        row=row,
                        column="/".join(entity.key),
                        value=value,
                        n=(first or 0) + (report.line_offset or 0),
                    )
                )
            report.add_count("duplicate_key", "/".join(entity.key), dup.count - len(dup.examples))
            for fld in entity.references:
                assert fld.references is not None
                parent_name, parent_col = fld.references.split(".")
                parent = any_entity(parent_name)
                orphans = self.engine.orphans(
                    entity, fld.name, files, parent, parent_col, self.staging.files(parent_name)
                )
                for row, value, _ in orphans.examples:
                    report.add(
                        Violation.of(
                            "reference",
                            row=row,
                            column=fld.name,
                            value=value,
                            parent=parent_name,
                            parent_column=parent_col,
                        )
                    )
                report.add_count("reference", fld.name, orphans.count - len(orphans.examples))
        self.progress("check", len(staged), len(staged))

    def _apply(self, source: str, kind: str, fingerprint: str) -> IngestResult:
        staged = {n: self.staging.files(n) for n, c in self.staging.rows.items() if c}
        rows_read = sum(r.rows_read for r in self.reports.values())
        self.progress("write", 0, 1)
        with self.ops.begin() as conn:
            for name, files in staged.items():
                if Store.OPERATIONAL in any_entity(name).stores:
                    for path in files:
                        for batch in pq.ParquetFile(path).iter_batches(batch_size=500_000):
                            self.ops.bulk_upsert(conn, name, pa.Table.from_batches([batch]))
            # The analytical commit happens inside the operational transaction: if it fails, the
            # operational rows roll back with it. (If the operational commit itself failed after
            # it, a re-run repairs the state: every write here is an idempotent upsert.)
            stats = self.engine.apply(staged)
            finished = datetime.now(UTC)
            totals = {
                "rows_inserted": sum(s.inserted for s in stats.values()),
                "rows_updated": sum(s.updated for s in stats.values()),
                "rows_skipped": sum(s.skipped for s in stats.values()),
            }
            run_id = self.ops.record_run(
                conn,
                kind=kind,
                source=source,
                fingerprint=fingerprint,
                status="succeeded",
                rows_read=rows_read,
                actor=self.actor,
                started_at=self.started_at,
                finished_at=finished,
                details=_json({n: s.__dict__ for n, s in stats.items()}),
                **totals,
            )
            self.ops.audit(
                conn,
                actor=self.actor,
                action="ingest",
                entity=kind,
                entity_id=str(run_id),
                after={"source": source, "rows_read": rows_read, **totals},
            )
        self.progress("write", 1, 1)
        return IngestResult(
            source=source,
            kinds=tuple(staged),
            rows_read=rows_read,
            stats=stats,
            seconds=time.perf_counter() - self.started,
            run_id=run_id,
        )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


def fingerprint_file(path: Path, *, kind: str, mapping: Mapping) -> str:
    """sha256 of the kind, the mapping text and the file's bytes."""
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(b"\0")
    h.update(mapping.text.encode())
    h.update(b"\0")
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
