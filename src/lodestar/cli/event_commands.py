"""`lodestar events post FILE.jsonl` and `lodestar events flush`: customer events into the live
event feed (what event-triggered journeys read) and from there into the analytical store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli.main import (
    WorkspaceOption,
    app,
    console,
    handled,
    locale,
    open_workspace,
    progress_bar,
    workspace_path,
)
from lodestar.i18n import t

if TYPE_CHECKING:
    from lodestar.workspace import Workspace

events = typer.Typer(help="Customer events: post them to the live feed, flush them into the "
                          "analytical store.", no_args_is_help=True)  # fmt: skip
app.add_typer(events, name="events")


@contextmanager
def feed_workspace(path: Path | None) -> Iterator[Workspace]:
    """Posting writes the operational store only: the analytical store is opened for reading
    (customer ids are checked there), so a running server does not block it."""
    from lodestar.workspace import Workspace

    with handled(), Workspace.open(workspace_path(path), analytics_read_only=True) as ws:
        yield ws


@events.command("post")
def post(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one event object a line (event_id, "
                                              "ts with offset, customer_id or anonymous_id, "
                                              "event_name, properties...).")],
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Events per transaction.")] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Check the whole file, then store its events in the live feed (ids already there are
    counted as duplicates). Any problem: exit 2 with file, line and field; nothing stored."""
    with feed_workspace(workspace) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            counts = ws.post_events_file(file, batch=batch, progress=progress)
        if json_:
            typer.echo(json.dumps(counts.as_dict()))
            return
        console().print(t("cli.events.posted", loc, source=file, **counts.as_dict()),
                        markup=False)  # fmt: skip


@events.command("flush")
def flush(
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Move the events posted since the last flush into the analytical ``events`` table (one
    ingestion run; running it again adds nothing twice). Needs the analytical store to itself:
    stop `lodestar serve` on this workspace first."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            result = ws.flush_events(progress=progress)
        if json_:
            typer.echo(json.dumps(result.__dict__))
            return
        key = "cli.events.flushed" if result.events else "cli.events.nothing_to_flush"
        console().print(t(key, loc, events=result.events, inserted=result.inserted,
                          first=result.from_seq + 1, last=result.to_seq,
                          run_id=result.run_id), markup=False)  # fmt: skip
