"""Workspace and data commands: init, ingest, generate, import-dataset, datasets, status, schema,
export, sql."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.main import (
    LangOption,
    WorkspaceOption,
    command,
    console,
    handled,
    locale,
    open_workspace,
    print_result,
    progress_bar,
    state,
    workspace_path,
)
from lodestar.i18n import t


@command
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")],
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Operational store URL (default: SQLite in the workspace; "
            "or $LODESTAR_DATABASE_URL).",
        ),
    ] = None,
) -> None:
    """Create a workspace (a folder with the operational and analytical stores)."""
    from lodestar.workspace import Workspace

    with handled():
        ws = Workspace.init(path, database_url=database_url)
        ws.close()
    console().print(t("cli.init.done", locale(), path=path), markup=False)


@command
def ingest(
    kind: Annotated[str, typer.Argument(help="What the file holds: customers, transactions...")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file.")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file for foreign layouts.")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, parquet or jsonl (default: extension).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Load again even if this file was loaded.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the validation report as JSON to this file."),
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LangOption = None,
) -> None:
    """Validate a file and load it: all rows or none. Bad input exits 2 with a report."""
    from lodestar.errors import ValidationFailed

    state.lang = lang or state.lang
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        try:
            with progress_bar(loc) as progress:
                result = ws.ingest(
                    kind, file, mapping=mapping, file_format=file_format, force=force,
                    progress=progress,
                )  # fmt: skip
        except ValidationFailed as exc:
            if report:
                report.write_text(
                    json.dumps(exc.report.to_dict(loc), ensure_ascii=False, indent=2),
                    encoding="utf-8",
                )
                console(stderr=True).print(t("cli.report.saved", loc, path=report))
            raise
        print_result(result, loc, ws)


@command
def generate(
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bank.")] = 42,
    workspace: WorkspaceOption = None,
) -> None:
    """Generate a realistic synthetic bank into the workspace (created if missing)."""
    from lodestar.workspace import Workspace

    path = workspace_path(workspace)
    with handled(), Workspace.init(path) as ws:
        loc = locale(ws)
        console().print(t("cli.generate.start", loc, customers=customers, seed=seed))
        with progress_bar(loc) as progress:
            result = ws.generate(customers, seed, progress=progress)
        print_result(result, loc, ws)


@command
def import_dataset(
    name: Annotated[str, typer.Argument(help="Dataset name (see `lodestar datasets`).")],
    path: Annotated[Path, typer.Argument(help="The dataset's folder or file.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Map a public dataset into the canonical model and load it."""
    from lodestar.workspace import Workspace

    with handled(), Workspace.init(workspace_path(workspace)) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            result = ws.import_dataset(name, path, progress=progress)
        print_result(result, loc, ws)


@command
def datasets() -> None:
    """List the public datasets that `import-dataset` understands."""
    from rich.table import Table

    from lodestar.data.connectors import DATASETS

    table = Table("name", "title", "expected rows")
    for name, conn in DATASETS.items():
        rows = ", ".join(f"{k} {v:,}" for k, v in conn.expected_rows.items())
        table.add_row(name, conn.title, rows)
    console().print(table)


@command
def status(workspace: WorkspaceOption = None) -> None:
    """Rows per table and the latest loads."""
    from rich.table import Table

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        out = console()
        counts = Table(t("cli.status.table", loc), t("cli.status.rows", loc),
                       title=t("cli.status.title", loc, path=ws.root))  # fmt: skip
        for name, n in ws.counts().items():
            counts.add_row(name, f"{n:,}")
        out.print(counts)
        runs = Table("run", "kind", "source", "rows", "status", "finished",
                     title=t("cli.status.runs", loc))  # fmt: skip
        for run in ws.runs(10):
            runs.add_row(str(run["run_id"]), run["kind"], run["source"],
                         f"{run['rows_read']:,}", run["status"], str(run["finished_at"])[:19])  # fmt: skip
        out.print(runs)


@command
def schema(
    kind: Annotated[str | None, typer.Argument(help="One entity; all when omitted.")] = None,
    markdown: Annotated[bool, typer.Option(help="Print docs/data-model.md.")] = False,
) -> None:
    """Show the canonical data model."""
    from rich.table import Table

    from lodestar.data import schema as s

    if markdown:
        typer.echo(s.to_markdown())
        return
    with handled():
        entities = [s.entity(kind)] if kind else list(s.ENTITIES.values())
    for e in entities:
        table = Table("field", "type", "required", "rule", title=f"{e.name}: {e.description}")
        for f in e.fields:
            rule = ", ".join(f.enum) if f.enum else (f.references or "")
            table.add_row(f.name, f.type.value, "yes" if f.required else "", rule)
        console().print(table)


@command
def export(
    table: Annotated[str, typer.Argument(help="Table to export.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Parquet file to write.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Export a table as Parquet (for Spark or other tools)."""
    with open_workspace(workspace) as ws:
        path = ws.export_parquet(table, out)
        console().print(str(path), markup=False)


@command
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50,
    workspace: WorkspaceOption = None,
) -> None:
    """Run SQL on the analytical store and print the result."""
    from rich.table import Table

    with open_workspace(workspace) as ws:
        try:
            result = ws.query(query)
        except Exception as exc:  # the engine's own message is the most useful one here
            console(stderr=True).print(f"{t('cli.error', locale(ws))}: {exc}", markup=False)
            raise typer.Exit(1) from None
        out = Table(*result.column_names)
        for row in result.slice(0, limit).to_pylist():
            out.add_row(*("" if v is None else str(v) for v in row.values()))
        console().print(out)
