"""What the built tags look like across the base: coverage and distribution per tag.

One query computes every boolean share and every number's quantiles; categories get their
value counts. Used by ``lodestar tags list --stats``, ``tags show`` and the demo report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lodestar.profile.tag_compiler import TagPlan
from lodestar.profile.tag_expr import quote_ident
from lodestar.storage.analytical import AnalyticalEngine

TABLE = "profile_tags"


@dataclass
class TagStats:
    name: str
    type: str
    customers: int
    non_null: int
    share_true: float | None = None  # boolean
    mean: float | None = None  # number
    quantiles: dict[str, float | None] = field(default_factory=dict)  # number: p10 p50 p90
    top_values: list[tuple[str, int]] = field(default_factory=list)  # category


def summarise_tags(
    engine: AnalyticalEngine, plan: TagPlan, names: list[str] | None = None, top: int = 8
) -> list[TagStats]:
    chosen = [n for n in (names or plan.names) if n in plan.tags]
    if not chosen or TABLE not in engine.tables():
        return []
    parts = ["count(*) AS n"]
    for name in chosen:
        q = quote_ident(name)
        parts.append(f"count({q}) AS {quote_ident('nn_' + name)}")
        kind = plan.tags[name].tag.type
        if kind == "boolean":
            parts.append(f"avg(CAST({q} AS DOUBLE)) AS {quote_ident('share_' + name)}")
        elif kind == "number":
            parts.append(f"avg({q}) AS {quote_ident('mean_' + name)}")
            parts.append(f"quantile_cont({q}, [0.1, 0.5, 0.9]) AS {quote_ident('q_' + name)}")
    row = engine.query(f"SELECT {', '.join(parts)} FROM {TABLE}").to_pylist()[0]
    out = []
    n = int(row["n"])
    for name in chosen:
        kind = plan.tags[name].tag.type
        stats = TagStats(name, kind, n, int(row["nn_" + name]))
        if kind == "boolean":
            stats.share_true = row["share_" + name]
        elif kind == "number":
            stats.mean = row["mean_" + name]
            qs = row["q_" + name] or [None, None, None]
            stats.quantiles = {"p10": qs[0], "p50": qs[1], "p90": qs[2]}
        else:
            q = quote_ident(name)
            counts = engine.query(
                f"SELECT CAST({q} AS VARCHAR) AS v, count(*) AS k FROM {TABLE} "
                f"GROUP BY 1 ORDER BY k DESC, v LIMIT {int(top)}"
            ).to_pylist()
            stats.top_values = [(str(c["v"]), int(c["k"])) for c in counts]
        out.append(stats)
    return out
