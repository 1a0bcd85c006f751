"""The ``lodestar`` command. Thin: every command parses, calls the Workspace, and prints.

Command groups live in their own modules (``data_commands``, ``demo_command``); this module holds
the app, the shared options and error handling.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.errors import LodestarError, ValidationFailed
from lodestar.i18n import resolve_locale, t

if TYPE_CHECKING:
    from rich.console import Console

    from lodestar.data.ingest import IngestResult, Progress
    from lodestar.workspace import Workspace

app = typer.Typer(
    name="lodestar",
    help="Lodestar: precision marketing and customer operations for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $LODESTAR_WORKSPACE, else ./lodestar-workspace).",
        show_default=False,
    ),
]
LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Language of messages: zh-CN (default) or en.", show_default=False),
]


class CliState:
    """What the callback parsed and every command shares."""

    lang: str | None = None


state = CliState()


@app.callback()
def _root(lang: LangOption = None) -> None:
    state.lang = lang


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def locale(ws: Workspace | None = None) -> str:
    return resolve_locale(state.lang, ws.config.locale if ws is not None else None)


def workspace_path(path: Path | None) -> Path:
    from lodestar.workspace import default_workspace_path

    return path if path is not None else default_workspace_path()


@contextmanager
def handled() -> Iterator[None]:
    """Turn Lodestar errors into a clear message and exit code 1 (2 for bad input data)."""
    try:
        yield
    except ValidationFailed as exc:
        console(stderr=True).print(exc.report.render(locale()), markup=False)
        raise typer.Exit(2) from None
    except LodestarError as exc:
        err = console(stderr=True)
        err.print(f"{t('cli.error', locale())}: {exc}", markup=False)
        raise typer.Exit(1) from None


@contextmanager
def open_workspace(path: Path | None) -> Iterator[Workspace]:
    from lodestar.workspace import Workspace

    with handled(), Workspace.open(workspace_path(path)) as ws:
        yield ws


@contextmanager
def progress_bar(lang: str) -> Iterator[Progress]:
    """A rich progress bar fed by the loaders' ``progress(stage, done, total)`` callback."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    quiet = not sys.stderr.isatty()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        disable=quiet,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(t(f"cli.progress.{stage}", lang), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def print_result(result: IngestResult, lang: str, ws: Workspace | None = None) -> None:
    out = console()
    if ws is not None and ws.tag_refresh_problem:
        console(stderr=True).print(
            t("cli.tags.stale", lang, problem=ws.tag_refresh_problem), markup=False
        )
    if result.already_ingested:
        prev = result.previous_run or {}
        out.print(t("cli.ingest.same", lang, source=result.source, run_id=prev.get("run_id")))
        return
    details = "; ".join(
        t(
            "cli.entity",
            lang,
            entity=s.entity,
            rows=s.rows,
            inserted=s.inserted,
            updated=s.updated,
            skipped=s.skipped,
        )
        for s in result.stats.values()
    )
    out.print(
        t(
            "cli.ingest.done",
            lang,
            source=result.source,
            details=details,
            seconds=result.seconds,
            run_id=result.run_id,
        ),
        markup=False,
    )


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn`` as a sub-command (named from the function, underscores to dashes)."""
    return app.command(name=fn.__name__.rstrip("_").replace("_", "-"))(fn)


def register_commands() -> None:
    """Import every command module (each registers itself on import); tests call this too."""
    import lodestar.cli.profile_analytics_commands  # noqa: F401
    from lodestar.cli import (  # noqa: F401
        analytics_group,
        campaign_commands,
        data_commands,
        demo_command,
        effect_commands,
        event_commands,
        experiment_commands,
        experiment_registry_commands,
        model_commands,
        plan_commands,
        policy_commands,
        profile_commands,
        referral_commands,
        rights_commands,
        segment_commands,
        serve_commands,
        tag_commands,
        voice_commands,
    )


def main() -> None:
    register_commands()
    app()
