"""The live-events half of the :class:`~lodestar.workspace.Workspace` facade: events posted by
systems (``POST /v1/events``, ``lodestar events post``) into the live event feed, events loaded
by ingestion that live campaigns listen to, and the flush of posted events into the analytical
``events`` table. Kept apart so ``workspace.py`` stays readable; :class:`Workspace` inherits it.

>>> import tempfile
>>> from lodestar.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/bank")
>>> ws.post_events([{"event_id": "e1", "ts": "2026-12-01T09:00:00+08:00",
...                  "anonymous_id": "D1", "event_name": "app_open"}]).as_dict()
{'received': 1, 'new': 1, 'duplicates': 0}
>>> ws.flush_events().events, ws.counts()["events"]
(1, 1)
>>> ws.close()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from lodestar.errors import ValidationFailed

if TYPE_CHECKING:
    from lodestar.campaigns.event_feed import FeedEvent
    from lodestar.config import EventSettings, WorkspaceConfig
    from lodestar.data.ingest import Loader, Progress, _Staging
    from lodestar.storage.analytical import AnalyticalEngine
    from lodestar.storage.operational import OperationalStore

_log = logging.getLogger("lodestar")
#: A context key of feed events attributed through the identities table (not sent so).
MERGED = "identity_merged"
#: The ingestion-run kind of a flush; its fingerprint ``event_feed:SEQ`` is the cursor.
FLUSH_KIND = "event_feed"
_CHUNK = 50_000
#: customer ids a process remembers as known before starting afresh (about 100 MB at most)
_SEEN_MAX = 1_000_000


@dataclass(frozen=True)
class EventCounts:
    """What a posted batch did: ``new`` stored, ``duplicates`` (ids seen before) ignored."""

    received: int
    new: int
    duplicates: int

    def as_dict(self) -> dict[str, int]:
        return {"received": self.received, "new": self.new, "duplicates": self.duplicates}


@dataclass(frozen=True)
class FlushResult:
    """A flush: the feed rows after ``from_seq`` up to ``to_seq`` moved into the analytical
    store (``events`` posted ones, ``inserted`` of them new there)."""

    from_seq: int
    to_seq: int
    events: int
    inserted: int
    run_id: int | None


class EventsMixin:
    ops: OperationalStore
    engine: AnalyticalEngine
    config: WorkspaceConfig
    #: why the latest load's listened events could not be fed (None: they were, or none were)
    feed_problem: str | None = None
    _customers_seen: set[str]

    @property
    def event_settings(self) -> EventSettings:
        from lodestar.config import EventSettings

        return self.config.events or EventSettings()

    # -- posting ------------------------------------------------------------------------------
    def post_events(self, events: Sequence[Any], *, rows: Sequence[int] | None = None,
                    source: str = "events") -> EventCounts:  # fmt: skip
        """Check a batch of events (dicts with the fields of the ``events`` entity) and store
        the new ones in the live event feed, all in one transaction; events whose id is
        already there are counted as duplicates and ignored.

        Raises :class:`~lodestar.errors.ValidationFailed` naming every problem (row = the
        event's position, or ``rows``; ``source`` names the batch) and stores nothing when any
        event breaks a rule, including a ``customer_id`` the workspace has no customer for."""
        from lodestar.campaigns import event_feed
        from lodestar.data.event_batch import check_events

        feed, report = check_events(events, rows=rows, source=source,
                                    known_customers=self._known_customers)  # fmt: skip
        if not report.ok:
            raise ValidationFailed(report)
        new = event_feed.append(self.ops, self._attributed(feed), source="api")
        return EventCounts(len(feed), new, len(feed) - new)

    def _attributed(self, feed: list[FeedEvent]) -> list[FeedEvent]:
        """Anonymous events whose id the identities table links to a customer carry that
        customer in the feed, so journeys see them (the identity merge of ``events_resolved``).
        The context marks them, so the flush stores the event as it was sent."""
        from dataclasses import replace

        from lodestar.storage.analytical import MERGE_ID_TYPES_SQL

        wanted = sorted({e.anonymous_id for e in feed if e.customer_id is None and e.anonymous_id})
        if not wanted:
            return feed
        table = self.engine.query(
            "SELECT i.id_value, min(i.customer_id) FROM identities i "
            "SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS id) w ON i.id_value = w.id "
            f"WHERE i.id_type IN ({MERGE_ID_TYPES_SQL}) GROUP BY i.id_value", [wanted])  # fmt: skip
        owners = dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))
        return [replace(e, customer_id=owners[e.anonymous_id],
                        context={**e.context, MERGED: "true"})
                if e.customer_id is None and e.anonymous_id in owners else e
                for e in feed]  # fmt: skip

    def post_events_file(self, path: str | Path, *, batch: int = 1000,
                         progress: Progress | None = None) -> EventCounts:  # fmt: skip
        """Post the events of a JSON Lines file (one event object a line) in batches of
        ``batch``. The whole file is checked first: with any problem (reported by file, line
        and field) nothing is stored; then each batch is stored in its own transaction, so a
        run cut short is simply run again (the stored ids count as duplicates)."""
        from lodestar.data.event_batch import MAX_EVENTS, check_events
        from lodestar.data.validation import ValidationReport
        from lodestar.errors import IngestError

        src = Path(path)
        if not src.is_file():
            raise IngestError(f"{src}: no such file")
        size = max(src.stat().st_size, 1)
        batch = max(1, min(batch, MAX_EVENTS))
        combined = ValidationReport(source=str(src), kind="events", line_offset=0)
        for events, lines, done in _jsonl_batches(src, batch, combined):
            if progress is not None:
                progress("check_events", done, size)
            _, report = check_events(events, rows=lines, source=str(src),
                                     known_customers=self._known_customers)  # fmt: skip
            combined.rows_read += report.rows_read
            for v in report.detailed:
                combined.add(v)
            for (rule, column), n in report.counts_by_column.items():
                kept = sum(1 for v in report.detailed if (v.rule, v.column or "") == (rule, column))
                combined.add_count(rule, column or None, n - kept)
        if not combined.ok:
            raise ValidationFailed(combined)
        total = EventCounts(0, 0, 0)
        for events, lines, done in _jsonl_batches(src, batch, combined):
            got = self.post_events(events, rows=lines, source=str(src))
            total = EventCounts(total.received + got.received, total.new + got.new,
                                total.duplicates + got.duplicates)  # fmt: skip
            if progress is not None:
                progress("post", done, size)
        return total

    def _known_customers(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are customers. Customers are never deleted (a load replaces them by
        key), so the ids found stay true and are remembered: the analytical store is asked
        only about ids not seen before (a few ms a batch otherwise)."""
        seen: set[str] | None = getattr(self, "_customers_seen", None)
        if seen is None or len(seen) > _SEEN_MAX:
            seen = set()
            self._customers_seen = seen
        ask = [i for i in ids if i not in seen]
        if ask:
            table = self.engine.query(
                "SELECT c.customer_id FROM customers c "
                "SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS id) w ON c.customer_id = w.id", [ask])
            seen.update(table.column(0).to_pylist())
        return {i for i in ids if i in seen}

    # -- ingestion into the feed ----------------------------------------------------------------
    def _feed_listened(self, staging: _Staging) -> int:
        """After a load committed: put its events that live campaigns listen to into the feed
        (source ``ingest``), with anonymous ones attributed through the identities table. A
        failure here does not undo the load; it is logged and kept in ``feed_problem``."""
        from lodestar.campaigns import event_feed
        from lodestar.campaigns.listeners import listened_event_names
        from lodestar.errors import LodestarError

        self.feed_problem = None
        files = staging.files("events")
        if not files:
            return 0
        try:
            names = listened_event_names(self)
            if not names:
                return 0
            listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            # events_resolved: the stored rows (the first arrival of an id) with the identity
            # merge every analysis uses
            table = self.engine.query(
                "SELECT r.* FROM events_resolved r "
                f"SEMI JOIN read_parquet([{listed}]) s ON r.event_id = s.event_id "
                "WHERE r.customer_id IS NOT NULL AND list_contains(?::VARCHAR[], r.event_name) "
                "ORDER BY r.ts, r.event_id", [sorted(names)])  # fmt: skip
            fed = 0
            for batch in table.to_batches(max_chunksize=_CHUNK):
                fed += event_feed.append(self.ops, _feed_events(batch.to_pylist()),
                                         source="ingest")  # fmt: skip
            return fed
        except (LodestarError, sa.exc.SQLAlchemyError) as exc:
            self.feed_problem = str(exc)
            _log.warning("listened events not fed to the live feed: %s", exc)
            return 0

    # -- flushing into the analytical store -----------------------------------------------------
    def flushed_seq(self) -> int:
        """The feed sequence number up to which posted events are in the analytical store."""
        from lodestar.storage.operational_tables import ingestion_runs

        q = (sa.select(ingestion_runs.c.fingerprint)
             .where((ingestion_runs.c.kind == FLUSH_KIND)
                    & (ingestion_runs.c.status == "succeeded"))
             .order_by(ingestion_runs.c.run_id.desc()).limit(1))  # fmt: skip
        with self.ops.engine.connect() as conn:
            last = conn.execute(q).scalar_one_or_none()
        return int(last.split(":")[1]) if last else 0

    def flush_events(self, *, progress: Progress | None = None,
                     actor: str | None = None) -> FlushResult:  # fmt: skip
        """Move the events posted to the feed since the last flush into the analytical
        ``events`` table, in one ingestion run whose record is the new cursor (so a flush that
        fails leaves the cursor where it was, and running it again adds nothing twice: rows
        already stored by event id are skipped). Events that came from ingestion are in the
        analytical store already and are not copied."""
        from lodestar.campaigns.event_feed import last_seq

        start, end = self.flushed_seq(), last_seq(self.ops)
        if end <= start:
            return FlushResult(start, start, 0, 0, None)
        loader: Loader = self._loader(progress, actor)  # type: ignore[attr-defined]
        loader.after_apply = None  # these events are in the feed already
        try:
            loader.add_tables(self._feed_tables(start, end), f"event_feed:{start + 1}-{end}")
        except BaseException:
            loader.staging.discard()
            raise
        result = loader.commit(f"event_feed:{start + 1}-{end}", FLUSH_KIND,
                               f"{FLUSH_KIND}:{end}")  # fmt: skip
        self._after_load()  # type: ignore[attr-defined]
        stats = result.stats.get("events")
        return FlushResult(start, end, stats.rows if stats else 0,
                           stats.inserted if stats else 0, result.run_id)  # fmt: skip

    def _feed_tables(self, start: int, end: int) -> Iterator[tuple[str, pa.Table]]:
        from lodestar.data.schema import EVENTS
        from lodestar.storage.operational_tables import event_feed as feed

        after = start
        while after < end:
            q = (sa.select(feed).where((feed.c.seq > after) & (feed.c.seq <= end))
                 .order_by(feed.c.seq).limit(_CHUNK))  # fmt: skip
            with self.ops.engine.connect() as conn:
                rows = [dict(r) for r in conn.execute(q).mappings()]
            if not rows:
                return
            after = int(rows[-1]["seq"])
            posted = [r for r in rows if r["source"] != "ingest"]
            if posted:
                yield "events", _events_table(posted, EVENTS)


def _jsonl_batches(path: Path, size: int, report: Any) -> Iterator[tuple[list[Any], list[int], int]]:
    """(events, their line numbers, bytes read so far) of a JSON Lines file, ``size`` at a
    time; a line that is not JSON goes into ``report`` (and is left out)."""
    import json

    from lodestar.data.validation import Violation

    events: list[Any] = []
    lines: list[int] = []
    done = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            done += len(raw)
            if not raw.strip():
                continue
            try:
                events.append(json.loads(raw))
                lines.append(number)
            except ValueError as exc:
                report.add(Violation.of("json", "unreadable.json", row=number, error=str(exc)))
            if len(events) >= size:
                yield events, lines, done
                events, lines = [], []
    if events:
        yield events, lines, done


def _feed_events(rows: list[dict[str, Any]]) -> list[Any]:
    from lodestar.campaigns.event_feed import FeedEvent
    from lodestar.data.event_batch import CONTEXT_FIELDS

    return [FeedEvent(event_id=r["event_id"], event_name=r["event_name"], ts=r["ts"],
                      customer_id=r["customer_id"], anonymous_id=r["anonymous_id"],
                      properties=_json_object(r["properties"]),
                      context={k: r[k] for k in CONTEXT_FIELDS if r.get(k) is not None})
            for r in rows]  # fmt: skip


def _json_object(text: str | None) -> dict[str, Any]:
    import json

    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def _events_table(rows: list[dict[str, Any]], entity: Any) -> pa.Table:
    """Feed rows as the ``events`` entity's columns (the context fields unpacked)."""
    import json

    columns: dict[str, list[Any]] = {f.name: [] for f in entity.fields}
    for r in rows:
        context = json.loads(r["context"]) if r.get("context") else {}
        ts = r["ts"] if r["ts"].tzinfo is not None else r["ts"].replace(tzinfo=UTC)
        # an event attributed on arrival is stored as it was sent: events_resolved merges it
        sent_customer = None if context.get(MERGED) else r["customer_id"]
        values = {**context, "event_id": r["event_id"], "ts": ts,
                  "customer_id": sent_customer, "anonymous_id": r["anonymous_id"],
                  "event_name": r["event_name"], "properties": r["properties"]}  # fmt: skip
        for name, out in columns.items():
            out.append(values.get(name))
    return pa.table({f.name: pa.array(columns[f.name], f.arrow_type) for f in entity.fields})
