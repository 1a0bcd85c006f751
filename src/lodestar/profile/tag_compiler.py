"""Tag definitions -> one SQL query for the analytical engine.

Checking (every problem is reported with file, line and field):
- names are unique and do not shadow a customer / profile column;
- every name an expression uses exists (with "did you mean" suggestions);
- types: a definition must produce the tag's declared type (boolean, category = text, number),
  expression operands must fit their operators, aggregates need numeric columns for sums;
- windows are well formed; cycles between tags are named tag by tag.

Compilation: aggregates over one source share one scan (``count(*) FILTER (WHERE ...)`` per
tag, grouped by customer), so the whole library costs one pass over transactions, one over
events and one over holdings. Tags that use other tags are computed in layers on top
(``SELECT *, <expr> AS tag FROM previous_layer``), in dependency order.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from lodestar.data.schema import ENTITIES
from lodestar.errors import DefinitionError
from lodestar.profile import tag_expr
from lodestar.profile.tag_expr import ExprError, ExprType, quote_ident, sql_literal
from lodestar.profile.tags import Aggregate, Bands, Case, TagDef

_FIELD_TYPES: dict[str, ExprType] = {
    "string": "text", "integer": "number", "float": "number", "boolean": "boolean",
    "date": "date", "timestamp": "date", "json": "text",
}  # fmt: skip
_TAG_EXPR_TYPE: dict[str, ExprType] = {"boolean": "boolean", "category": "text", "number": "number"}
_EXPR_TAG_TYPE = {"boolean": "boolean", "text": "category", "number": "number"}


@dataclass(frozen=True)
class Source:
    """Where aggregates read from: a relation, its time column, the canonical tables it reads."""

    relation: str
    time: str
    entities: tuple[str, ...]
    columns: Mapping[str, ExprType]


def _entity_columns(name: str) -> dict[str, ExprType]:
    return {f.name: _FIELD_TYPES[f.type] for f in ENTITIES[name].fields}


def sources() -> dict[str, Source]:
    holdings_cols: dict[str, ExprType] = {
        **_entity_columns("holdings"), "category": "text", "risk_level": "text",
        "product_name": "text", "term_months": "number", "margin": "number",
        "annual_fee": "number", "product_rate": "number",
    }  # fmt: skip
    holdings_rel = (
        "(SELECT h.*, p.category, p.risk_level, p.name AS product_name, p.term_months, "
        "p.margin, p.annual_fee, p.interest_rate AS product_rate "
        "FROM holdings h LEFT JOIN products p USING (product_id))"
    )
    return {
        "transactions": Source("transactions", "ts", ("transactions",),
                               _entity_columns("transactions")),
        "events": Source("events_resolved", "ts", ("events", "identities"),
                         _entity_columns("events")),
        "holdings": Source(holdings_rel, "open_date", ("holdings", "products"), holdings_cols),
        "complaints": Source("complaints", "ts", ("complaints",), _entity_columns("complaints")),
        "surveys": Source("surveys", "ts", ("surveys",), _entity_columns("surveys")),
        "campaign_contacts": Source("campaign_contacts", "contacted_at", ("campaign_contacts",),
                                    _entity_columns("campaign_contacts")),
    }  # fmt: skip


@dataclass(frozen=True)
class CompiledTag:
    tag: TagDef
    deps: tuple[str, ...]  # other tags it uses directly
    level: int
    #: canonical tables (and profile tables) whose changes can change this tag, transitively
    reads: frozenset[str]
    #: changes with the data date alone (windows, recency, age...), transitively
    time_dependent: bool


@dataclass(frozen=True)
class TagPlan:
    """Checked tags in dependency order, ready to compile to SQL for any data date."""

    tags: dict[str, CompiledTag]

    @property
    def names(self) -> list[str]:
        return list(self.tags)

    def closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and every tag they depend on, in plan order."""
        want: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n not in want:
                want.add(n)
                stack.extend(self.tags[n].deps)
        return [n for n in self.tags if n in want]

    def sql(
        self,
        base_sql: str,
        as_of: date,
        *,
        only: Iterable[str] | None = None,
        customers_sql: str | None = None,
    ) -> str:
        """A SELECT giving customer_id and the tags (``only`` those and what they need),
        for the customers of ``customers_sql`` (a subquery of customer ids) or everyone."""
        wanted = self.closure(only) if only is not None else list(self.tags)
        output = [n for n in wanted if only is None or n in set(only)]
        return _compile(self, wanted, output, base_sql, as_of, customers_sql)


# -- checking -------------------------------------------------------------------------------
def plan_tags(
    tags: list[TagDef],
    base_columns: Mapping[str, ExprType],
    base_origins: Mapping[str, str] | None = None,
    *,
    problems: list[str] | None = None,
    broken: set[str] | None = None,
) -> TagPlan:
    """Check the tags against each other and the base columns; raise :class:`DefinitionError`
    listing every problem (with ``problems`` found earlier, e.g. while loading), or return the
    plan in dependency order. Names in ``broken`` (tags that failed to load) are not blamed
    again where other tags use them."""
    origins = dict(base_origins or {})
    problems = list(problems or [])
    broken = set(broken or ())
    declared = {t.name: t for t in tags}
    srcs = sources()

    def fail(tag: TagDef, field_path: str, message: str) -> None:
        label = field_path.split(".", maxsplit=1)[0] if field_path else "name"
        problems.append(f"{tag.where(field_path)}: tag '{tag.name}', field '{field_path or label}': "
                        f"{message}")  # fmt: skip

    def lookup_for(tag: TagDef) -> Callable[[str], str | None]:
        def lookup(name: str) -> str | None:
            if name in declared and name != tag.name:
                return _TAG_EXPR_TYPE[declared[name].type]
            if name in base_columns:
                return base_columns[name]
            if name in broken:
                return "null"  # already reported where it is defined
            if name == tag.name:
                raise ExprError(f"tag '{name}' cannot use itself", 0)
            return None

        return lookup

    def expr_problem(tag: TagDef, field_path: str, text: str, exc: ExprError,
                     names: Iterable[str]) -> None:  # fmt: skip
        msg = exc.message
        if msg.startswith("unknown name '"):
            unknown = msg.split("'")[1]
            close = difflib.get_close_matches(unknown, list(names), n=3)
            if close:
                msg += f" (did you mean {', '.join(repr(c) for c in close)}?)"
        where = f" at column {exc.column}" if exc.column else ""
        fail(tag, field_path, f'{msg}{where} in "{text}"')

    deps: dict[str, list[str]] = {}
    direct_reads: dict[str, set[str]] = {}
    direct_time: dict[str, bool] = {}
    all_names = [*declared, *base_columns]
    for tag in tags:
        if tag.name in base_columns:
            fail(tag, "name", f"'{tag.name}' is already a customer / profile column; choose "
                              "another name")  # fmt: skip
            continue
        lookup = lookup_for(tag)
        d = tag.definition
        used: list[str] = []
        got: ExprType | None = None
        reads: set[str] = set()
        timed = False
        try:
            if isinstance(d, Aggregate):
                got, reads, timed = _check_aggregate(tag, d, srcs, fail, expr_problem)
            elif tag.kind == "attribute":
                assert isinstance(d, str)
                got = tag_expr.check(tag_expr.Name(d.strip(), 1), lookup)
                used = [d.strip()]
            elif tag.kind == "expr":
                assert isinstance(d, str)
                node = tag_expr.parse(d)
                got = tag_expr.check(node, lookup)
                used = [n.name for n in tag_expr.names(node)]
                timed = _uses_time_functions(node)
            elif isinstance(d, Bands):
                of_type = lookup(d.of)
                if of_type is None:
                    raise ExprError(f"unknown name '{d.of}'", 0)
                if of_type != "number":
                    fail(tag, "bands.of", f"bands need a number, but '{d.of}' is {of_type}")
                    continue
                used, got = [d.of], "text"
            elif isinstance(d, Case):
                got = _check_case(tag, d, lookup, fail, expr_problem, all_names, used)
                timed = any(_uses_time_functions(tag_expr.parse(w)) for w, _ in d.whens)
        except ExprError as exc:
            field_path = {"bands": "bands.of"}.get(tag.kind, tag.kind)
            text = d if isinstance(d, str) else getattr(d, "of", "")
            expr_problem(tag, field_path, text, exc, all_names)
            continue
        if got is None:
            continue
        want = _TAG_EXPR_TYPE[tag.type]
        if got == "date":
            fail(tag, tag.kind, "gives a date; tags are boolean, category or number — e.g. "
                                "days_since(x) for a number")  # fmt: skip
            continue
        if got not in (want, "null"):
            fail(tag, "type", f"declared {tag.type}, but its {tag.kind} gives "
                              f"{_EXPR_TAG_TYPE.get(got, got)}")  # fmt: skip
            continue
        deps[tag.name] = [u for u in dict.fromkeys(used) if u in declared]
        for u in used:
            if u not in declared and u in base_columns:
                reads.add(origins.get(u, "customers"))
                timed = timed or u in ("age", "tenure_months")
        direct_reads[tag.name] = reads
        direct_time[tag.name] = timed
    problems.extend(_cycles(declared, deps))
    if problems:
        raise DefinitionError(problems, what="tag definitions")
    order = _topological(list(deps), deps)
    compiled: dict[str, CompiledTag] = {}
    for name in order:
        level = 1 + max((compiled[x].level for x in deps[name]), default=-1)
        reads = set(direct_reads[name])
        timed = direct_time[name]
        for x in deps[name]:
            reads |= compiled[x].reads
            timed = timed or compiled[x].time_dependent
        compiled[name] = CompiledTag(declared[name], tuple(deps[name]), level,
                                     frozenset(reads), timed)  # fmt: skip
    # output columns in the order the files declare them; layers come from the levels
    ordered = {n: compiled[n] for n in declared if n in compiled}
    return TagPlan(ordered)


def _uses_time_functions(node: tag_expr.Node) -> bool:
    found = False

    def walk(n: object) -> None:
        nonlocal found
        if isinstance(n, tag_expr.Call) and n.func in ("days_since", "years_since"):
            found = True
        for child in getattr(n, "__dict__", {}).values():
            if isinstance(child, tuple):
                for c in child:
                    walk(c)
            elif hasattr(child, "pos"):
                walk(child)

    walk(node)
    return found


def _check_aggregate(tag: TagDef, d: Aggregate, srcs: Mapping[str, Source],
                     fail: Callable[[TagDef, str, str], None],
                     expr_problem: Callable[..., None]
                     ) -> tuple[ExprType | None, set[str], bool]:  # fmt: skip
    src = srcs.get(d.source)
    if src is None:
        fail(tag, "aggregate.source", f"'{d.source}' is not a source; use {', '.join(srcs)}")
        return None, set(), False
    timed = d.window is not None or d.function in ("days_since_last", "days_since_first")
    if d.where is not None:
        try:
            node = tag_expr.parse(d.where)
            kind = tag_expr.check(node, src.columns.get)
        except ExprError as exc:
            expr_problem(tag, "aggregate.where", d.where, exc, list(src.columns))
            return None, set(), False
        if kind != "boolean":
            fail(tag, "aggregate.where", f"where must be a condition (true / false), it is {kind}")
            return None, set(), False
        timed = timed or _uses_time_functions(node)
    col_type: ExprType | None = None
    if d.column is not None:
        col_type = src.columns.get(d.column)
        if col_type is None:
            close = difflib.get_close_matches(d.column, list(src.columns), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            fail(tag, "aggregate.column", f"{d.source} has no column '{d.column}'{hint}")
            return None, set(), False
        if d.function in ("sum", "avg") and col_type != "number":
            fail(tag, "aggregate.column", f"{d.function} needs a number column; "
                                          f"'{d.column}' is {col_type}")  # fmt: skip
            return None, set(), False
    result: ExprType
    if d.function == "exists":
        result = "boolean"
    elif d.function in ("mode", "last", "min", "max"):
        assert col_type is not None
        result = col_type
    else:
        result = "number"
    return result, set(src.entities), timed


def _check_case(tag: TagDef, d: Case, lookup: Callable[[str], str | None],
                fail: Callable[[TagDef, str, str], None], expr_problem: Callable[..., None],
                all_names: list[str], used: list[str]) -> ExprType | None:  # fmt: skip
    kinds: set[ExprType] = set()
    for j, (when, then) in enumerate(d.whens):
        try:
            node = tag_expr.parse(when)
            kind = tag_expr.check(node, lookup)
        except ExprError as exc:
            expr_problem(tag, f"case[{j}].when", when, exc, all_names)
            return None
        if kind != "boolean":
            fail(tag, f"case[{j}].when", f'a condition must be true / false; "{when}" is {kind}')
            return None
        used.extend(n.name for n in tag_expr.names(node))
        kinds.add(tag_expr._literal_type(then))
    if d.otherwise is not None:
        kinds.add(tag_expr._literal_type(d.otherwise))
    kinds.discard("null")
    if len(kinds) > 1:
        fail(tag, "case", f"the values mix {' and '.join(sorted(kinds))}; make them one type")
        return None
    return kinds.pop() if kinds else "null"


def _cycles(declared: Mapping[str, TagDef], deps: Mapping[str, list[str]]) -> list[str]:
    """One message per cycle, naming each tag in it and where it is defined."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(deps, white)
    stack: list[str] = []
    out: list[str] = []
    seen_cycles: set[frozenset[str]] = set()

    def visit(n: str) -> None:
        color[n] = grey
        stack.append(n)
        for m in deps.get(n, []):
            if m not in color:
                continue
            if color[m] == grey:
                cycle = [*stack[stack.index(m) :], m]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    t = declared[m]
                    path = " -> ".join(cycle)
                    places = "; ".join(f"'{c}' at {declared[c].where('name')}" for c in cycle[:-1])
                    out.append(f"{t.where(t.kind)}: tag '{m}', field '{t.kind}': the tags use "
                               f"each other in a cycle: {path} ({places})")  # fmt: skip
            elif color[m] == white:
                visit(m)
        stack.pop()
        color[n] = black

    for n in deps:
        if color[n] == white:
            visit(n)
    return out


def _topological(names: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    done: set[str] = set()
    order: list[str] = []

    def visit(n: str) -> None:
        if n in done:
            return
        done.add(n)
        for m in deps[n]:
            visit(m)
        order.append(n)

    for n in names:
        visit(n)
    return order


# -- SQL --------------------------------------------------------------------------------------
def _window_start(d: Aggregate, end: str) -> str | None:
    parts = d.window_parts
    if parts is None:
        return None
    n, unit = parts
    sql_unit = {"d": "DAY", "w": "WEEK", "m": "MONTH", "y": "YEAR"}[unit]
    return f"({end} - INTERVAL ({n}) {sql_unit})"


def _aggregate_sql(d: Aggregate, src: Source, as_of: date) -> tuple[str, str | None]:
    """(SQL of the aggregate over the source grouped by customer, default for no rows)."""
    end = f"({sql_literal(as_of)} + 1)"
    conds = []
    if d.where:
        conds.append(tag_expr.to_sql(tag_expr.parse(d.where), quote_ident, as_of))
    start = _window_start(d, end)
    if start:
        conds.append(f"{quote_ident(src.time)} >= {start}")
    col = quote_ident(d.column) if d.column else None
    if d.function in ("mode", "last"):
        conds.append(f"{col} IS NOT NULL")
    flt = f" FILTER (WHERE {' AND '.join(conds)})" if conds else ""
    time = quote_ident(src.time)
    f = d.function
    if f == "count":
        return f"count(*){flt}", "0"
    if f == "exists":
        return f"(count(*){flt} > 0)", "FALSE"
    if f in ("sum", "avg", "min", "max"):
        return f"{f}({col}){flt}", "0" if f == "sum" else None
    if f == "count_distinct":
        return f"count(DISTINCT {col}){flt}", "0"
    if f == "active_months":
        return f"count(DISTINCT date_trunc('month', {time})){flt}", "0"
    if f == "days_since_last":
        return f"date_diff('day', CAST(max({time}){flt} AS DATE), {sql_literal(as_of)})", None
    if f == "days_since_first":
        return f"date_diff('day', CAST(min({time}){flt} AS DATE), {sql_literal(as_of)})", None
    if f == "last":  # ties broken by the value so the result never depends on scan order
        return f"first({col} ORDER BY {time} DESC, {col}){flt}", None
    raise AssertionError(f)  # mode is compiled separately


def _mode_cte(d: Aggregate, src: Source, as_of: date, customers_sql: str | None) -> str:
    end = f"({sql_literal(as_of)} + 1)"
    col = quote_ident(d.column or "")
    conds = [f"{quote_ident(src.time)} < {end}", f"{col} IS NOT NULL", "customer_id IS NOT NULL"]
    if d.where:
        conds.append(tag_expr.to_sql(tag_expr.parse(d.where), quote_ident, as_of))
    start = _window_start(d, end)
    if start:
        conds.append(f"{quote_ident(src.time)} >= {start}")
    if customers_sql:
        conds.append(f"customer_id IN ({customers_sql})")
    # the most frequent value; ties go to the smallest value, so results are reproducible
    return (
        f"SELECT customer_id, first(v ORDER BY n DESC, v) AS v FROM ("
        f"SELECT customer_id, {col} AS v, count(*) AS n FROM {src.relation} "
        f"WHERE {' AND '.join(conds)} GROUP BY customer_id, {col}) GROUP BY customer_id"
    )


def _compile(plan: TagPlan, wanted: list[str], output: list[str], base_sql: str, as_of: date,
             customers_sql: str | None) -> str:  # fmt: skip
    srcs = sources()
    restrict = f" AND customer_id IN ({customers_sql})" if customers_sql else ""
    ctes = [f"base AS (SELECT * FROM ({base_sql}) b WHERE TRUE{restrict})"]
    joins: list[str] = []
    level0: list[str] = []
    by_source: dict[str, list[tuple[str, str, str | None]]] = {}
    modes = 0
    for name in wanted:
        ct = plan.tags[name]
        d = ct.tag.definition
        if isinstance(d, Aggregate):
            if d.function == "mode":
                cte = f"m_{modes}"
                ctes.append(f"{cte} AS ({_mode_cte(d, srcs[d.source], as_of, customers_sql)})")
                joins.append(f"LEFT JOIN {cte} ON {cte}.customer_id = base.customer_id")
                level0.append(f"{cte}.v AS {quote_ident(name)}")
                modes += 1
                continue
            agg, default = _aggregate_sql(d, srcs[d.source], as_of)
            by_source.setdefault(d.source, []).append((name, agg, default))
    for i, (source, aggs) in enumerate(by_source.items()):
        src = srcs[source]
        cte = f"a_{i}"
        cols = ", ".join(f"{agg} AS {quote_ident('a_' + name)}" for name, agg, _ in aggs)
        end = f"({sql_literal(as_of)} + 1)"
        ctes.append(
            f"{cte} AS (SELECT customer_id, {cols} FROM {src.relation} "
            f"WHERE customer_id IS NOT NULL AND {quote_ident(src.time)} < {end}{restrict} "
            f"GROUP BY customer_id)"
        )
        joins.append(f"LEFT JOIN {cte} ON {cte}.customer_id = base.customer_id")
        for name, _, default in aggs:
            value = f"{cte}.{quote_ident('a_' + name)}"
            if default is not None:
                value = f"coalesce({value}, {default})"
            level0.append(f"{value} AS {quote_ident(name)}")
    layers: dict[int, list[str]] = {}
    for name in wanted:
        ct = plan.tags[name]
        if isinstance(ct.tag.definition, Aggregate):
            continue
        layers.setdefault(ct.level, []).append(f"{_value_sql(ct, as_of)} AS {quote_ident(name)}")
    first = ", ".join(["base.*", *level0, *layers.pop(0, [])])
    ctes.append(f"l0 AS (SELECT {first} FROM base {' '.join(joins)})")
    last = "l0"
    for k, (_, layer) in enumerate(sorted(layers.items()), start=1):
        ctes.append(f"l{k} AS (SELECT *, {', '.join(layer)} FROM {last})")
        last = f"l{k}"
    out_cols = ", ".join(["customer_id", *(quote_ident(n) for n in output)])
    return f"WITH {', '.join(ctes)} SELECT {out_cols} FROM {last}"


def _value_sql(ct: CompiledTag, as_of: date) -> str:
    tag, d = ct.tag, ct.tag.definition
    if tag.kind == "attribute":
        assert isinstance(d, str)
        sql = quote_ident(d.strip())
    elif tag.kind == "expr":
        assert isinstance(d, str)
        sql = tag_expr.to_sql(tag_expr.parse(d), quote_ident, as_of)
    elif isinstance(d, Bands):
        x = quote_ident(d.of)
        parts = [f"WHEN {x} IS NULL THEN NULL"]
        parts += [
            f"WHEN {x} < {c!r} THEN {sql_literal(lab)}"
            for c, lab in zip(d.cuts, d.labels, strict=False)
        ]
        sql = f"CASE {' '.join(parts)} ELSE {sql_literal(d.labels[-1])} END"
    else:
        assert isinstance(d, Case)
        whens = " ".join(
            f"WHEN {tag_expr.to_sql(tag_expr.parse(w), quote_ident, as_of)} THEN {sql_literal(v)}"
            for w, v in d.whens
        )
        sql = f"CASE {whens} ELSE {sql_literal(d.otherwise)} END"
    if tag.type == "boolean":
        return f"coalesce({sql}, FALSE)"
    return sql
