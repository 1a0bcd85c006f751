"""``ProfileIndex``: ``customer_profile`` held in memory as numpy, for counts in microseconds.

Rows are customers in ``customer_id`` order. Each column is kept in the form its predicates are
fastest on:

- yes/no columns as two packed bitmaps, *true* and *false* (a NULL is in neither);
- text columns as dictionary codes (``-1`` for NULL) plus the dictionary: a predicate is
  evaluated once per distinct value (Arrow compute, same byte-wise ordering and LIKE rules as
  DuckDB) and spread to rows through the codes;
- numbers as float64 and dates as float64 day numbers, NaN for NULL.

An expression evaluates to a pair of bitmaps, the rows where it is TRUE and the rows where it
is FALSE; rows in neither are unknown (SQL NULL). ``not`` swaps the pair, ``and`` / ``or`` combine
them (TRUE-and: all TRUE; FALSE-and: any FALSE), which is exactly SQL's three-valued logic, and no
bitwise complement is ever taken, so the padding bits of the last word stay zero. Only the
TRUE bitmap is needed at the top, so FALSE bitmaps are computed only under a ``not``. Counting is
a popcount (``np.bitwise_count``) over 64-bit words.

Behaviour functions (``did``, ``consent``...) are evaluated by the engine into a bitmap, through
the ``behaviour`` callback, and cached by the caller.

The arrays are saved under a folder named after the data's version stamp and memory-mapped on
the next open, so a new process counts without rebuilding.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.segments.catalogue import Catalogue, FieldInfo, FieldKind
from lodestar.segments.compiler import VIEW, quote
from lodestar.segments.nodes import (
    BEHAVIOURS,
    FIELD_PREDICATES,
    And,
    Between,
    Compare,
    FieldPredicate,
    Flag,
    InList,
    InSegment,
    IsNull,
    Node,
    Not,
    Or,
    TextMatch,
    Value,
)
from lodestar.storage.analytical import AnalyticalEngine

Bits = np.ndarray  # uint64 words, bit i of the packed bytes = row i
_EPOCH = date(1970, 1, 1)
_META = "meta.json"
#: Memory the leaf cache may hold (pairs of bitmaps for non-trivial predicates).
LEAF_CACHE_BYTES = 64 * 2**20


def pack(mask: np.ndarray) -> Bits:
    """Boolean rows -> packed bits as uint64 words (zero padding)."""
    raw = np.packbits(mask)
    pad = (-len(raw)) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros(pad, np.uint8)])
    return raw.view(np.uint64)


def popcount(bits: Bits) -> int:
    return int(np.bitwise_count(bits).sum(dtype=np.int64))


def unpack(bits: Bits, n: int) -> np.ndarray:
    return np.unpackbits(bits.view(np.uint8), count=n).astype(bool)


def _days(value: date) -> float:
    return float((value - _EPOCH).days)


@dataclass
class _Column:
    info: FieldInfo
    #: booleans: packed TRUE / FALSE bitmaps; others: None
    true: Bits | None = None
    false: Bits | None = None
    #: numbers and dates (NaN = NULL)
    values: np.ndarray | None = None
    #: text: codes into ``dictionary`` (-1 = NULL)
    codes: np.ndarray | None = None
    dictionary: pa.Array | None = None
    #: rows with a value (all kinds; built on first use for numbers, dates and text)
    valid: Bits | None = None


class ProfileIndex:
    def __init__(self, ids: pa.Array, columns: dict[str, _Column], stamp: str) -> None:
        self.ids = ids
        self.n = len(ids)
        self.columns = columns
        self.stamp = stamp
        self.all = pack(np.ones(self.n, bool))
        self.none = np.zeros_like(self.all)
        self._leaves: OrderedDict[Node, tuple[Bits, Bits]] = OrderedDict()
        self._leaf_limit = max(16, LEAF_CACHE_BYTES // max(1, 2 * self.all.nbytes))

    # -- building, saving, loading -----------------------------------------------------------------
    @classmethod
    def build(
        cls,
        engine: AnalyticalEngine,
        catalogue: Catalogue,
        stamp: str,
        directory: Path | None = None,
    ) -> ProfileIndex:
        """Read ``customer_profile`` once and convert every column (saved to ``directory``)."""
        selects = []
        for info in catalogue.fields.values():
            q = quote(info.name)
            if info.is_timestamp:
                selects.append(f"CAST({q} AS DATE) AS {q}")
            elif info.is_decimal:
                selects.append(f"CAST({q} AS DOUBLE) AS {q}")
            elif info.kind == FieldKind.OTHER:
                selects.append(f"({q} IS NOT NULL) AS {q}")
            else:
                selects.append(q)
        table = engine.query(f"SELECT {', '.join(selects)} FROM {VIEW} ORDER BY customer_id")
        columns = {}
        for info in catalogue.fields.values():
            columns[info.name] = _convert(info, table.column(info.name))
        index = cls(table.column("customer_id").combine_chunks(), columns, stamp)
        if directory is not None:
            index.save(directory)
        return index

    def save(self, directory: Path) -> None:
        """Write the arrays under ``directory/<stamp>/``; ``meta.json`` goes last, so a folder
        without it is an unfinished write and is ignored."""
        target = directory / self.stamp
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        meta: dict[str, Any] = {"stamp": self.stamp, "n": self.n, "columns": []}
        _write_arrow(target / "ids.arrow", self.ids)
        for i, col in enumerate(self.columns.values()):
            entry: dict[str, Any] = {"name": col.info.name, "kind": col.info.kind.value,
                                     "sql_type": col.info.sql_type, "files": {}}  # fmt: skip
            for part in ("true", "false", "values", "codes", "valid"):
                arr = getattr(col, part)
                if arr is not None:
                    np.save(target / f"c{i}.{part}.npy", arr)
                    entry["files"][part] = f"c{i}.{part}.npy"
            if col.dictionary is not None:
                _write_arrow(target / f"c{i}.dictionary.arrow", col.dictionary)
                entry["files"]["dictionary"] = f"c{i}.dictionary.arrow"
            meta["columns"].append(entry)
        tmp = target / (_META + ".tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, target / _META)
        for other in directory.iterdir():  # older versions are of no further use
            if other.is_dir() and other.name != self.stamp:
                shutil.rmtree(other, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, stamp: str) -> ProfileIndex | None:
        """The saved index for ``stamp``, memory-mapped; None when there is none."""
        target = directory / stamp
        try:
            meta = json.loads((target / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("stamp") != stamp:
            return None
        try:
            ids = _read_arrow(target / "ids.arrow")
            columns = {}
            for entry in meta["columns"]:
                info = FieldInfo(entry["name"], FieldKind(entry["kind"]), entry["sql_type"])
                parts: dict[str, Any] = {}
                for part, file in entry["files"].items():
                    if part == "dictionary":
                        parts[part] = _read_arrow(target / file)
                    else:
                        # A plain ndarray view of the mapping: np.memmap's Python-level hooks
                        # would run on every bitwise operation.
                        parts[part] = np.load(target / file, mmap_mode="r").view(np.ndarray)
                columns[info.name] = _Column(info, **parts)
        except (OSError, ValueError, KeyError, pa.ArrowException):
            return None
        return cls(ids, columns, stamp)

    # -- evaluation -------------------------------------------------------------------------------
    def evaluate(
        self,
        node: Node,
        behaviour: Callable[[Node], Bits] | None = None,
        resolve: Callable[[InSegment], Node] | None = None,
    ) -> Bits:
        """Rows for which ``node`` is TRUE, as packed bits."""
        t, _ = _Evaluator(self, behaviour, resolve).run(node, want_false=False)
        return t

    def count(
        self,
        node: Node,
        behaviour: Callable[[Node], Bits] | None = None,
        resolve: Callable[[InSegment], Node] | None = None,
    ) -> int:
        return popcount(self.evaluate(node, behaviour, resolve))

    def positions(self, bits: Bits) -> np.ndarray:
        return np.flatnonzero(unpack(bits, self.n))

    def members(self, bits: Bits) -> pa.Array:
        return self.ids.take(pa.array(self.positions(bits)))

    def bits_of_ids(self, ids: pa.Array) -> Bits:
        """Packed bits of the rows whose customer_id is in ``ids`` (ids not in the index are
        ignored)."""
        pos = pc.index_in(ids, value_set=self.ids).drop_null().to_numpy()
        mask = np.zeros(self.n, bool)
        mask[pos] = True
        return pack(mask)

    # -- leaves ---------------------------------------------------------------------------------
    def column(self, name: str) -> _Column:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"customer_profile has no column {name!r} in this index") from None

    def valid(self, col: _Column) -> Bits:
        if col.valid is None:
            if col.true is not None and col.false is not None:
                col.valid = col.true | col.false
            elif col.values is not None:
                col.valid = pack(~np.isnan(col.values))
            elif col.codes is not None:
                col.valid = pack(np.asarray(col.codes) >= 0)
            else:
                col.valid = self.all
        return col.valid

    def leaf(self, node: FieldPredicate) -> tuple[Bits, Bits]:
        """(TRUE rows, FALSE rows) of a predicate on one field."""
        if isinstance(node, Flag):
            col = self.column(node.field)
            assert col.true is not None and col.false is not None
            return col.true, col.false
        if isinstance(node, IsNull):
            col = self.column(node.field)
            valid = self.valid(col)
            null = self.all & ~valid
            return (valid, null) if node.negated else (null, valid)
        col = self.column(node.field)
        if col.true is not None and col.false is not None:
            return self._boolean(col, node)
        cached = self._leaves.get(node)
        if cached is not None:
            self._leaves.move_to_end(node)
            return cached
        result = self._text(col, node) if col.codes is not None else self._number(col, node)
        self._leaves[node] = result
        if len(self._leaves) > self._leaf_limit:
            self._leaves.popitem(last=False)
        return result

    def _boolean(self, col: _Column, node: Node) -> tuple[Bits, Bits]:
        assert col.true is not None and col.false is not None
        by_value = {True: col.true, False: col.false}
        if isinstance(node, Compare):
            hit = by_value[bool(node.value)]
            miss = by_value[not node.value]
            return (hit, miss) if node.op == "=" else (miss, hit)
        if isinstance(node, InList):
            wanted = {bool(v) for v in node.values}
            t = self.none.copy()
            f = self.none.copy()
            for v, bits in by_value.items():
                target = t if v in wanted else f
                np.bitwise_or(target, bits, out=target)
            return (f, t) if node.negated else (t, f)
        raise TypeError(f"{type(node).__name__} does not apply to a yes/no field")

    def _number(self, col: _Column, node: Node) -> tuple[Bits, Bits]:
        x = np.asarray(col.values)

        def num(v: Value) -> float:
            return _days(v) if isinstance(v, date) else float(v)

        with np.errstate(invalid="ignore"):
            if isinstance(node, Compare):
                v = num(node.value)
                t, f = _compare(x, node.op, v)
                if node.op in ("=", "!="):  # NaN != v is True in numpy, unknown in SQL
                    valid = ~np.isnan(x)
                    t, f = t & valid, f & valid
                return pack(t), pack(f)
            if isinstance(node, Between):
                lo, hi = num(node.low), num(node.high)
                t = (x >= lo) & (x <= hi)
                f = (x < lo) | (x > hi)
                return (pack(f), pack(t)) if node.negated else (pack(t), pack(f))
            if isinstance(node, InList):
                hit = np.isin(x, np.array([num(v) for v in node.values]))
                miss = ~hit & ~np.isnan(x)
                return (pack(miss), pack(hit)) if node.negated else (pack(hit), pack(miss))
        raise TypeError(f"{type(node).__name__} does not apply to a {col.info.kind} field")

    def _text(self, col: _Column, node: Node) -> tuple[Bits, Bits]:
        d = col.dictionary
        assert d is not None
        if isinstance(node, Compare):
            fn = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
                  ">": pc.greater, ">=": pc.greater_equal}[node.op]  # fmt: skip
            table = fn(d, pa.scalar(node.value, pa.string()))
        elif isinstance(node, Between):
            table = pc.and_(pc.greater_equal(d, pa.scalar(node.low, pa.string())),
                            pc.less_equal(d, pa.scalar(node.high, pa.string())))  # fmt: skip
        elif isinstance(node, InList):
            table = pc.is_in(d, value_set=pa.array([str(v) for v in node.values], pa.string()))
        elif isinstance(node, TextMatch):
            table = (pc.match_substring(d, node.pattern) if node.op == "contains"
                     else pc.match_like(d, node.pattern))  # fmt: skip
        else:
            raise TypeError(f"{type(node).__name__} does not apply to a text field")
        hit = np.asarray(table.to_numpy(zero_copy_only=False), dtype=bool)
        negate = isinstance(node, Between | InList) and node.negated
        # Index 0 of each lookup table stands for NULL (code -1): neither TRUE nor FALSE.
        t_table = np.concatenate([[False], hit])
        f_table = np.concatenate([[False], ~hit])
        codes = np.asarray(col.codes) + 1
        t, f = pack(t_table[codes]), pack(f_table[codes])
        return (f, t) if negate else (t, f)


def _compare(x: np.ndarray, op: str, v: float) -> tuple[np.ndarray, np.ndarray]:
    if op == "=":
        return x == v, x != v
    if op == "!=":
        return x != v, x == v
    if op == "<":
        return x < v, x >= v
    if op == "<=":
        return x <= v, x > v
    if op == ">":
        return x > v, x <= v
    return x >= v, x < v


class _Evaluator:
    def __init__(
        self,
        index: ProfileIndex,
        behaviour: Callable[[Node], Bits] | None,
        resolve: Callable[[InSegment], Node] | None,
    ) -> None:
        self.index = index
        self.behaviour = behaviour
        self.resolve = resolve

    def run(self, node: Node, want_false: bool) -> tuple[Bits, Bits | None]:
        kind = type(node)
        if kind is Flag:  # the commonest leaf first: tags are yes/no columns
            col = self.index.columns[node.field]  # type: ignore[union-attr]
            if col.true is not None and col.false is not None:
                return col.true, col.false
        if kind is And or kind is Or:
            items = node.items  # type: ignore[union-attr]
            t_op, f_op = ((np.bitwise_and, np.bitwise_or) if kind is And
                          else (np.bitwise_or, np.bitwise_and))  # fmt: skip
            t, f = self.run(items[0], want_false)
            t_acc = t.copy()
            f_acc = f.copy() if want_false and f is not None else None
            for item in items[1:]:
                t, f = self.run(item, want_false)
                t_op(t_acc, t, out=t_acc)
                if f_acc is not None and f is not None:
                    f_op(f_acc, f, out=f_acc)
            return t_acc, f_acc
        if kind is Not:
            t, f = self.run(node.item, want_false=True)  # type: ignore[union-attr]
            assert f is not None
            return f, t
        ix = self.index
        if kind is InSegment:
            if self.resolve is None:
                raise ValueError("in_segment() needs a resolver")
            t, _ = self.run(self.resolve(node), want_false=False)  # type: ignore[arg-type]
            return t, (ix.all & ~t) if want_false else None
        if isinstance(node, BEHAVIOURS):
            if self.behaviour is None:
                raise ValueError(f"{type(node).__name__.lower()}() needs the engine")
            t = self.behaviour(node)
            return t, (ix.all & ~t) if want_false else None
        assert isinstance(node, FIELD_PREDICATES)
        return ix.leaf(node)


def _convert(info: FieldInfo, arr: pa.ChunkedArray) -> _Column:
    n = len(arr)
    if info.kind in (FieldKind.BOOLEAN, FieldKind.OTHER):
        values = pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)
        if info.kind == FieldKind.OTHER:  # the query selected "is not null"
            return _Column(info, valid=pack(values))
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return _Column(info, true=pack(values & valid), false=pack(~values & valid))
    if info.kind == FieldKind.TEXT:
        encoded = pc.dictionary_encode(arr.cast(pa.string())).combine_chunks()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return _Column(info, codes=codes.astype(np.int32), dictionary=encoded.dictionary)
    if info.kind == FieldKind.DATE:
        days = pc.cast(arr.cast(pa.date32()), pa.int32()).cast(pa.float64())
        return _Column(info, values=_floats(days, n))
    return _Column(info, values=_floats(arr.cast(pa.float64()), n))


def _floats(arr: pa.ChunkedArray, n: int) -> np.ndarray:
    out = pc.fill_null(arr, float("nan")).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64).reshape(n)


def _write_arrow(path: Path, arr: pa.Array) -> None:
    table = pa.table({"v": arr})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_arrow(path: Path) -> pa.Array:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all().column("v").combine_chunks()
