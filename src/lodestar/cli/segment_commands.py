"""`lodestar segment ...`: count, save, list, show, export, overlap and sample audiences."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.errors import SegmentError
from lodestar.i18n import t

if TYPE_CHECKING:
    from lodestar.workspace import Workspace

segment = typer.Typer(
    help="Audiences: count, save, list, show, export, overlap, sample (docs/segments.md).",
    no_args_is_help=True,
)
app.add_typer(segment, name="segment")

Expr = Annotated[
    str, typer.Argument(help="Audience expression, e.g. \"age >= 30 and consent('sms')\"")
]


@contextmanager
def segment_workspace(path: Path | None) -> Iterator[tuple[Workspace, str]]:
    """The workspace and its language; a SegmentError is printed with its caret line."""
    with open_workspace(path) as ws:
        loc = locale(ws)
        try:
            yield ws, loc
        except SegmentError as exc:
            console(stderr=True).print(f"{t('cli.error', loc)}: {exc.render(loc)}", markup=False)
            raise typer.Exit(1) from None


def _warn(ws: Workspace, expr: str, loc: str) -> None:
    for warning in ws.parse_segment(expr).warnings:
        console(stderr=True).print(warning.render(loc), markup=False)


@segment.command("count")
def count(
    expr: Expr,
    sql: Annotated[bool, typer.Option("--sql", help="Also count with the engine's SQL.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """How many customers match, their share, and the time the count took."""
    with segment_workspace(workspace) as (ws, loc):
        _warn(ws, expr, loc)
        population = ws.segment_population()
        started = time.perf_counter()
        n = ws.segment_count(expr)
        ms = (time.perf_counter() - started) * 1000
        out = console()
        out.print(t("seg.cli.count", loc, count=n, share=n / population if population else 0.0,
                    population=population, ms=ms), markup=False)  # fmt: skip
        if sql:
            started = time.perf_counter()
            m = ws.segment_count(expr, method="sql")
            ms = (time.perf_counter() - started) * 1000
            out.print("SQL: " + t("seg.cli.count", loc, count=m, population=population,
                                  share=m / population if population else 0.0, ms=ms),
                      markup=False)  # fmt: skip


@segment.command("save")
def save(
    name: Annotated[str, typer.Argument(help="Segment name: lower-case letters, digits, _.")],
    expr: Expr,
    description: Annotated[str | None, typer.Option(help="What the audience is for.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Save an expression as the next version of a segment (checked first)."""
    with segment_workspace(workspace) as (ws, loc):
        _warn(ws, expr, loc)
        before = {s.name: s.version for s in ws.segments()}
        v = ws.save_segment(name, expr, description)
        key = "seg.cli.unchanged" if before.get(name) == v.version else "seg.cli.saved"
        console().print(t(key, loc, name=v.name, version=v.version, count=v.count_at_save,
                          share=v.share_at_save), markup=False)  # fmt: skip


@segment.command("list")
def list_(workspace: WorkspaceOption = None) -> None:
    """Saved segments: latest version, expression, customers when saved, who, when."""
    from rich.table import Table

    with segment_workspace(workspace) as (ws, loc):
        saved = ws.segments()
        if not saved:
            console().print(t("seg.cli.none", loc), markup=False)
            return
        table = Table(*(t(k, loc) for k in ("seg.cli.name", "seg.cli.version",
                      "seg.cli.expression", "seg.cli.count_at_save", "seg.cli.by",
                      "seg.cli.when")))  # fmt: skip
        for s in saved:
            table.add_row(s.name, str(s.version), s.expression,
                          f"{s.count_at_save:,} ({s.share_at_save:.1%})", s.created_by,
                          s.created_at.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
        console().print(table)


@segment.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Saved segment name.")],
    version: Annotated[int | None, typer.Option(help="A past version.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """One segment: its versions, and how many customers match it now."""
    from rich.table import Table

    with segment_workspace(workspace) as (ws, loc):
        chosen = ws.segment(name, version)
        out = console()
        now = ws.segment_count(chosen.expression)
        population = ws.segment_population()
        out.print(f"{chosen.name} v{chosen.version}: {chosen.expression}", markup=False)
        if chosen.description:
            out.print(f"{t('seg.cli.description', loc)}: {chosen.description}", markup=False)
        out.print(f"{t('seg.cli.now', loc)}: {now:,} ({now / population if population else 0:.1%})",
                  markup=False)  # fmt: skip
        table = Table(*(t(k, loc) for k in ("seg.cli.version", "seg.cli.expression",
                      "seg.cli.count_at_save", "seg.cli.data_as_of", "seg.cli.by",
                      "seg.cli.when")))  # fmt: skip
        for v in ws.segment_versions(name):
            table.add_row(str(v.version), v.expression, f"{v.count_at_save:,}",
                          str(v.data_as_of or "-"), v.created_by,
                          v.created_at.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
        out.print(table)


@segment.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Saved segment name.")],
    file: Annotated[Path, typer.Argument(help="Target .csv or .parquet file.")],
    columns: Annotated[
        str | None, typer.Option(help="Columns besides customer_id, comma-separated.")
    ] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Write personal data unmasked (audit-logged).")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a segment's members to CSV or Parquet; personal data masked unless --unmask."""
    with segment_workspace(workspace) as (ws, loc):
        cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        result = ws.export_segment(name, file, columns=cols, unmask=unmask)
        out = console()
        out.print(t("seg.cli.exported", loc, rows=result.rows, name=name, path=result.path),
                  markup=False)  # fmt: skip
        if result.masked:
            out.print(t("seg.cli.masked", loc, columns=", ".join(result.masked)), markup=False)
        if unmask:
            out.print(t("seg.cli.unmasked", loc), markup=False)


@segment.command("overlap")
def overlap(
    a: Annotated[str, typer.Argument(help="Saved segment name or expression.")],
    b: Annotated[str, typer.Argument(help="Saved segment name or expression.")],
    c: Annotated[str | None, typer.Argument(help="Optional third one.")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also write a Venn-style chart to this .html file.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Customers in every region of the Venn diagram, and the Jaccard index of each pair."""
    from rich.table import Table

    with segment_workspace(workspace) as (ws, loc):
        ov = ws.segment_overlap([x for x in (a, b, c) if x is not None])
        out = console()
        table = Table(t("seg.cli.overlap.region", loc), t("seg.cli.overlap.customers", loc),
                      title=t("seg.cli.overlap.title", loc, labels=" / ".join(ov.labels),
                              population=ov.population))  # fmt: skip
        for key, n in ov.regions.items():
            inside = " ∩ ".join(lab for lab, m in zip(ov.labels, key, strict=True) if m)
            table.add_row(inside, f"{n:,}")
        out.print(table)
        out.print(t("seg.cli.overlap.union", loc, union=ov.union), markup=False)
        for (x, y), value in ov.jaccard.items():
            out.print(t("seg.cli.overlap.jaccard", loc, a=x, b=y, value=value), markup=False)
        if chart is not None:
            from lodestar.reports.segments_section import overlap_figure

            chart.parent.mkdir(parents=True, exist_ok=True)
            overlap_figure(ov, loc).write_html(chart, include_plotlyjs=True)
            out.print(t("seg.cli.chart", loc, path=chart), markup=False)


@segment.command("sample")
def sample(
    item: Annotated[str, typer.Argument(help="Saved segment name or expression.")],
    n: Annotated[int, typer.Option("-n", help="How many members.")] = 10,
    seed: Annotated[int | None, typer.Option(help="Seed for a repeatable draw.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """A few members chosen at random, personal data masked."""
    from rich.table import Table

    with segment_workspace(workspace) as (ws, loc):
        rows = ws.segment_sample(item, n, seed)
        total = ws.segment_count(item if item not in {s.name for s in ws.segments()}
                                 else f"in_segment('{item}')")  # fmt: skip
        table = Table(*rows.column_names,
                      title=t("seg.cli.sample", loc, n=rows.num_rows, count=total))  # fmt: skip
        for row in rows.to_pylist():
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console().print(table)


@segment.command("fields")
def fields(workspace: WorkspaceOption = None) -> None:
    """The fields of customer_profile that expressions can use, with their kinds."""
    from rich.table import Table

    with segment_workspace(workspace) as (ws, loc):
        found = ws.segment_fields()
        table = Table(t("seg.cli.name", loc), t("seg.cli.kind", loc), "SQL",
                      title=t("seg.cli.fields", loc, n=len(found)))  # fmt: skip
        for name, kind, sql_type in found:
            table.add_row(name, t(f"seg.kind.{kind}", loc), sql_type)
        console().print(table)
