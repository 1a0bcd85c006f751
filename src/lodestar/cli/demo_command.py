"""``lodestar demo``: the main job on the embedded default, one command end to end."""

from __future__ import annotations

from typing import Annotated

import typer

from lodestar.cli.main import WorkspaceOption, command, console, handled, locale, progress_bar
from lodestar.i18n import t


@command
def demo(
    customers: Annotated[
        int, typer.Option(min=100, help="Customers in the synthetic bank.")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    workspace: WorkspaceOption = None,
) -> None:
    """Generate a bank, run every stage that exists, print a summary, write report.html."""
    from lodestar.workspace import Workspace, default_workspace_path

    path = workspace or default_workspace_path()
    with handled(), Workspace.init(path) as ws:
        loc = locale(ws)
        console().print(t("cli.generate.start", loc, customers=customers, seed=seed))
        with progress_bar(loc) as progress:
            outcome = ws.demo(customers, seed, progress=progress, locale=loc)
        out = console()
        for line in outcome.summary_lines:
            out.print(line, markup=False)
        out.print(t("cli.demo.done", loc, seconds=outcome.seconds, report=outcome.report_path))
