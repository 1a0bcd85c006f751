"""The segments of one workspace: parse, count, list members, save, compare, sample, export.

:class:`Segments` is what ``Workspace``'s segment methods delegate to. It keeps, for the life of
the workspace object, the field catalogue, the data date, the in-memory
:class:`~lodestar.segments.index.ProfileIndex` and the bitmaps of behaviour functions; before each
operation it checks the quick version stamp (:mod:`lodestar.segments.stamp`) and drops whatever
the data has moved under.

Counts use the index; member lists, samples and exports run the compiled SQL in the engine (the
index and the SQL agree exactly; the tests hold them to it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations, product
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lodestar.errors import SegmentError
from lodestar.segments.catalogue import Catalogue
from lodestar.segments.compiler import (
    VIEW,
    CompileContext,
    behaviour_members_sql,
    count_sql,
    members_sql,
    quote,
)
from lodestar.segments.index import Bits, ProfileIndex, popcount
from lodestar.segments.lint import SegmentWarning, lint
from lodestar.segments.masking import PII_COLUMNS, mask_sql
from lodestar.segments.nodes import InSegment, Node, walk
from lodestar.segments.parser import parse
from lodestar.segments.printer import to_text
from lodestar.segments.stamp import content_stamp, quick_stamp
from lodestar.segments.store import NAME, SegmentStore, SegmentVersion, check_name
from lodestar.storage.analytical import AnalyticalEngine
from lodestar.storage.operational import OperationalStore

#: Columns a sample shows when present (personal data masked).
SAMPLE_COLUMNS = ("customer_id", "name", "gender", "age", "city", "region", "income_band",
                  "tenure_months", "rfm_group", "value_tier", "lifecycle_stage", "persona")  # fmt: skip
#: Expressions whose parse is kept (per data version).
PARSED_CACHE = 256


@dataclass(frozen=True)
class ParsedSegment:
    """An expression read and checked against the workspace's fields."""

    node: Node
    text: str
    warnings: list[SegmentWarning] = field(default_factory=list)

    @property
    def canonical(self) -> str:
        return to_text(self.node)


@dataclass(frozen=True)
class Overlap:
    """Sizes of every region of the Venn diagram of two or three segments.

    ``regions`` maps a tuple of memberships (one bool per segment, in order) to the number of
    customers in exactly those segments; ``jaccard`` maps each pair of labels to
    |A∩B| / |A∪B|.
    """

    labels: list[str]
    sizes: dict[str, int]
    regions: dict[tuple[bool, ...], int]
    jaccard: dict[tuple[str, str], float]
    union: int
    population: int

    def region_rows(self) -> list[dict[str, Any]]:
        return [{"in": [lab for lab, m in zip(self.labels, key, strict=True) if m],
                 "customers": n} for key, n in self.regions.items()]  # fmt: skip


@dataclass(frozen=True)
class SegmentExport:
    path: Path
    rows: int
    columns: list[str]
    masked: list[str]


def engine_bits(
    engine: AnalyticalEngine, index: ProfileIndex, ctx: CompileContext, node: Node
) -> Bits:
    """The index rows for which one behaviour function holds, asked of the engine."""
    c = behaviour_members_sql(node, ctx)
    return index.bits_of_ids(engine.query(c.sql, c.params).column(0))


class Segments:
    def __init__(
        self,
        engine: AnalyticalEngine,
        ops: OperationalStore,
        index_dir: Path | None,
    ) -> None:
        self.engine = engine
        self.ops = ops
        self.store = SegmentStore(ops)
        self.index_dir = index_dir
        self._quick: str | None = None
        self._catalogue: Catalogue | None = None
        self._as_of: date | None = None
        self._index: ProfileIndex | None = None
        self._behaviour: dict[Node, Bits] = {}
        self._events: frozenset[str] | None = None
        self._products: frozenset[str] | None = None
        #: expressions read since the data last moved (typing in a console re-counts often)
        self._parsed: OrderedDict[str, ParsedSegment] = OrderedDict()

    # -- freshness --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget what the data may have moved under (cheap when nothing moved)."""
        stamp = quick_stamp(self.engine)
        if stamp == self._quick:
            return
        self._quick = stamp
        self._catalogue = None
        self._as_of = None
        self._behaviour.clear()
        self._parsed.clear()
        self._events = self._products = None
        if self._index is not None and self._index.stamp != content_stamp(self.engine):
            self._index = None

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = Catalogue.from_engine(self.engine)
        return self._catalogue

    @property
    def as_of(self) -> date | None:
        if self._as_of is None:
            from lodestar.profile.view import data_as_of

            self._as_of = data_as_of(self.engine)
        return self._as_of

    def index(self) -> ProfileIndex:
        if self._index is None:
            stamp = content_stamp(self.engine)
            loaded = ProfileIndex.load(self.index_dir, stamp) if self.index_dir else None
            self._index = loaded or ProfileIndex.build(
                self.engine, self.catalogue, stamp, self.index_dir
            )
        return self._index

    # -- reading expressions ----------------------------------------------------------------------
    def parse(self, expr: str | Node) -> ParsedSegment:
        """Read ``expr`` against the current fields; unknown fields and wrong types are errors,
        unknown event names and products are warnings."""
        text = expr if isinstance(expr, str) else to_text(expr)  # a tree is checked too
        cached = self._parsed.get(text)
        if cached is not None:
            self._parsed.move_to_end(text)
            return cached
        node = parse(text, self.catalogue)
        parsed = ParsedSegment(node, text, lint(node, text, self._known_events,
                                                self._known_products))  # fmt: skip
        self._parsed[text] = parsed
        if len(self._parsed) > PARSED_CACHE:
            self._parsed.popitem(last=False)
        return parsed

    def _known_events(self) -> frozenset[str]:
        if self._events is None:
            rows = self.engine.query("SELECT DISTINCT event_name FROM events")
            self._events = frozenset(str(v) for v in rows.column(0).to_pylist())
        return self._events

    def _known_products(self) -> frozenset[str]:
        if self._products is None:
            rows = self.engine.query("SELECT product_id FROM products")
            self._products = frozenset(str(v) for v in rows.column(0).to_pylist())
        return self._products

    def resolver(
        self, parsed: ParsedSegment, owner: str | None = None
    ) -> Callable[[InSegment], Node]:
        """Resolve every ``in_segment`` reachable from ``parsed`` to its saved segment's latest
        version (``owner`` being saved resolves to ``parsed`` itself), refusing unknown names
        and loops."""
        trees: dict[str, Node] = {}
        texts: dict[str, str] = {}
        if owner is not None:
            trees[owner], texts[owner] = parsed.node, parsed.text

        def visit(node: Node, text: str, stack: list[str], within: str | None) -> None:
            for ref in walk(node):
                if not isinstance(ref, InSegment):
                    continue
                if ref.name in stack:
                    raise SegmentError(
                        "seg.cycle", position=ref.pos, expression=text, segment=within,
                        path=" -> ".join([*stack, ref.name]), hint_key="seg.hint.cycle",
                    )  # fmt: skip
                if ref.name not in trees:
                    saved = self.store.latest(ref.name)
                    if saved is None:
                        self.store.unknown(ref.name, position=ref.pos, expression=text,
                                           segment=within)  # fmt: skip
                    trees[ref.name] = self._parse_saved(saved)
                    texts[ref.name] = saved.expression
                visit(trees[ref.name], texts[ref.name], [*stack, ref.name], ref.name)

        visit(parsed.node, parsed.text, [owner] if owner else [], None)

        def resolve(ref: InSegment) -> Node:
            return trees[ref.name]

        return resolve

    def _parse_saved(self, saved: SegmentVersion) -> Node:
        try:
            return parse(saved.expression, self.catalogue)
        except SegmentError as exc:
            exc.segment = exc.segment or f"{saved.name} v{saved.version}"
            raise

    def context(self, resolve: Callable[[InSegment], Node] | None) -> CompileContext:
        return CompileContext(self.catalogue, self.as_of, resolve)

    def _behaviour_bits(self, node: Node) -> Bits:
        cached = self._behaviour.get(node)
        if cached is None:
            cached = engine_bits(self.engine, self.index(), self.context(None), node)
            self._behaviour[node] = cached
        return cached

    # -- counting and members ---------------------------------------------------------------------
    def bits(self, expr: str | Node, owner: str | None = None) -> Bits:
        self.refresh()
        parsed = self.parse(expr)
        resolve = self.resolver(parsed, owner)
        return self.index().evaluate(parsed.node, self._behaviour_bits, resolve)

    def count(self, expr: str | Node, method: Literal["index", "sql"] = "index") -> int:
        if method == "index":
            return popcount(self.bits(expr))
        if method != "sql":
            raise ValueError(f"method must be 'index' or 'sql', not {method!r}")
        self.refresh()
        parsed = self.parse(expr)
        c = count_sql(parsed.node, self.context(self.resolver(parsed)))
        return int(self.engine.scalar(c.sql, c.params))

    def population(self) -> int:
        self.refresh()
        return self.index().n

    def members(self, expr: str | Node) -> pa.Table:
        """customer_id of every member, sorted (the compiled SQL, run by the engine)."""
        self.refresh()
        parsed = self.parse(expr)
        c = members_sql(parsed.node, self.context(self.resolver(parsed)))
        return self.engine.query(c.sql + " ORDER BY customer_id", c.params)

    def sql(self, expr: str | Node) -> tuple[str, list[Any]]:
        """The SQL that lists the members of ``expr`` and its parameters."""
        self.refresh()
        parsed = self.parse(expr)
        c = members_sql(parsed.node, self.context(self.resolver(parsed)))
        return c.sql, c.params

    # -- saved segments ---------------------------------------------------------------------------
    def save(
        self, name: str, expr: str | Node, description: str | None, actor: str
    ) -> tuple[SegmentVersion, bool]:
        check_name(name)
        self.refresh()
        parsed = self.parse(expr)
        resolve = self.resolver(parsed, owner=name)
        index = self.index()
        count = popcount(index.evaluate(parsed.node, self._behaviour_bits, resolve))
        return self.store.save(
            name, parsed.canonical, description or None, count=count, population=index.n,
            data_as_of=self.as_of, actor=actor,
        )  # fmt: skip

    def _item(self, item: str | Node) -> tuple[str, str | Node]:
        """(label, expression) of a saved segment name or an expression."""
        if isinstance(item, str) and NAME.fullmatch(item) and item in self.store.names():
            return item, InSegment(item)
        return (item if isinstance(item, str) else to_text(item)), item

    def overlap(self, items: Sequence[str | Node]) -> Overlap:
        if not 2 <= len(items) <= 3:
            raise SegmentError("seg.overlap_size", n=len(items))
        labelled = [self._item(i) for i in items]
        bits = [self.bits(expr) for _, expr in labelled]
        index = self.index()
        labels = [lab for lab, _ in labelled]
        regions: dict[tuple[bool, ...], int] = {}
        for key in product((True, False), repeat=len(bits)):
            if not any(key):
                continue
            acc = index.all.copy()
            for inside, b in zip(key, bits, strict=True):
                np.bitwise_and(acc, b if inside else (index.all & ~b), out=acc)
            regions[key] = popcount(acc)
        jaccard = {}
        for (i, a), (j, b) in combinations(enumerate(bits), 2):
            union = popcount(a | b)
            jaccard[(labels[i], labels[j])] = popcount(a & b) / union if union else 0.0
        union_bits = bits[0].copy()
        for b in bits[1:]:
            np.bitwise_or(union_bits, b, out=union_bits)
        return Overlap(labels, {lab: popcount(b) for lab, b in zip(labels, bits, strict=True)},
                       regions, jaccard, popcount(union_bits), index.n)  # fmt: skip

    def sample(
        self, item: str | Node, n: int = 10, seed: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:  # fmt: skip
        """``n`` members drawn at random (``seed`` for a repeatable draw), personal data
        masked."""
        _, expr = self._item(item)
        bits = self.bits(expr)
        index = self.index()
        positions = index.positions(bits)
        rng = np.random.default_rng(seed)
        chosen = rng.choice(positions, size=min(n, len(positions)), replace=False)
        ids = index.ids.take(pa.array(np.sort(chosen)))
        cols = list(columns) if columns else [c for c in SAMPLE_COLUMNS if c in self.catalogue]
        return self._rows(ids, self._check_columns(cols), unmask=False)

    def _check_columns(self, columns: Sequence[str]) -> list[str]:
        out = []
        for col in columns:
            info = self.catalogue.lookup(col)
            if info is None:
                close = self.catalogue.suggest(col)
                raise SegmentError("seg.unknown_column", name=col,
                                   hint_key="seg.hint.did_you_mean" if close else "seg.hint.fields",
                                   options=", ".join(close))  # fmt: skip
            if info.name not in out:
                out.append(info.name)
        return out

    def _select(self, columns: Sequence[str], unmask: bool) -> tuple[str, list[str]]:
        parts, masked = [], []
        for col in columns:
            q = quote(col)
            if col in PII_COLUMNS and not unmask:
                parts.append(f"{mask_sql(q, PII_COLUMNS[col])} AS {q}")
                masked.append(col)
            else:
                parts.append(q)
        return ", ".join(parts), masked

    def _rows(self, ids: pa.Array, columns: list[str], unmask: bool) -> pa.Table:
        select, _ = self._select(columns, unmask)
        return self.engine.query(
            f"SELECT {select} FROM {VIEW} WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY customer_id",
            [ids.to_pylist()],
        )

    def export(
        self, name: str, path: Path, columns: Sequence[str] | None, unmask: bool, actor: str
    ) -> SegmentExport:
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise SegmentError("seg.export_format", suffix=path.suffix or path.name,
                               hint_key="seg.hint.export_format")  # fmt: skip
        self.refresh()
        saved = self.store.get(name)
        cols = self._check_columns(["customer_id", *(columns or [])])
        parsed = self.parse(saved.expression)
        c = members_sql(parsed.node, self.context(self.resolver(parsed, owner=name)))
        select, masked = self._select(cols, unmask)
        table = self.engine.query(
            f"SELECT {select} FROM {VIEW} WHERE customer_id IN ({c.sql}) ORDER BY customer_id",
            c.params,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, path)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        with self.ops.begin() as conn:
            self.ops.audit(
                conn, actor=actor,
                action="segment.export.unmasked" if unmask else "segment.export",
                entity="segment", entity_id=name,
                after={"version": saved.version, "path": str(path), "rows": table.num_rows,
                       "columns": cols, "unmasked": unmask,
                       "personal_columns": [c for c in cols if c in PII_COLUMNS]},
            )  # fmt: skip
        return SegmentExport(path, table.num_rows, cols, masked)
