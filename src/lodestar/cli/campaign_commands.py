"""`lodestar campaign ...`: save a campaign definition, move it through its lifecycle
(submit, approve, reject, schedule, start, pause, resume, complete, cancel), list, show,
history.

Who acts: the person whose API key is given with ``--key`` (or ``LODESTAR_API_KEY``), in that
key's role — an approval needs an approver's key, so maker-checker holds at the command line as
in the API. Without a key the local user acts as a marketer (write, submit, schedule...), never
as an approver.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.i18n import t

if TYPE_CHECKING:
    from lodestar.campaigns.lifecycle import Actor

campaign_app = typer.Typer(help="Campaigns: save, submit, approve, schedule, start... "
                                "(maker-checker; docs/campaigns.md).",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(campaign_app, name="campaign")

KeyOption = Annotated[str | None, typer.Option("--key", help="Your API key (default: "
                                               "$LODESTAR_API_KEY); its role is yours.")]


def _actor(ws: Any, key: str | None) -> Actor:
    from lodestar.campaigns.lifecycle import Actor
    from lodestar.errors import ConfigError
    from lodestar.security.actors import local_actor as local_user
    from lodestar.security.api_keys import authenticate

    token = key or os.environ.get("LODESTAR_API_KEY")
    if not token:
        return Actor(local_user(), "marketer")
    found = authenticate(ws.ops, token)
    if found is None:
        raise ConfigError("the API key is unknown, revoked or malformed",
                          hint="lodestar apikey list shows the keys (an admin creates one)")  # fmt: skip
    return Actor(found.name, found.role.value)


@campaign_app.command("save")
def save(
    file: Annotated[Path, typer.Argument(help="Campaign YAML (see docs/campaigns.md).")],
    key: KeyOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Create the campaign or store a new version (an edit after approval needs a new one)."""
    from lodestar.campaigns.definition import CampaignDefinition
    from lodestar.campaigns.lifecycle import Campaigns

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        record = Campaigns(ws.ops).save(CampaignDefinition.from_yaml(file), _actor(ws, key))
        console().print(t("camp.saved", loc, id=record.campaign_id, version=record.version,
                          state=record.state.value), markup=False)  # fmt: skip


def _action(action: str) -> None:
    def command(
        campaign_id: Annotated[str, typer.Argument(help="The campaign.")],
        comment: Annotated[str | None, typer.Option(help="Why (required to reject).")] = None,
        key: KeyOption = None,
        workspace: WorkspaceOption = None,
    ) -> None:
        from lodestar.campaigns.lifecycle import Campaigns

        with open_workspace(workspace) as ws:
            loc = locale(ws)
            record = Campaigns(ws.ops).act(campaign_id, action, _actor(ws, key),
                                           comment=comment)  # fmt: skip
            console().print(t("camp.moved", loc, id=record.campaign_id, version=record.version,
                              state=record.state.value), markup=False)  # fmt: skip

    command.__doc__ = f"{action.capitalize()} a campaign (as the key's holder)."
    campaign_app.command(action)(command)


for _name in ("submit", "approve", "reject", "schedule", "start", "pause", "resume", "complete",
              "cancel"):  # fmt: skip
    _action(_name)


@campaign_app.command("list")
def list_(workspace: WorkspaceOption = None) -> None:
    """Every campaign with its state and versions."""
    from lodestar.campaigns.lifecycle import Campaigns

    with open_workspace(workspace) as ws:
        for r in Campaigns(ws.ops).all():
            console().print(f"{r.campaign_id}  {r.state.value}  v{r.version}  approved "
                            f"v{r.approved_version or '-'}  {r.name}", markup=False)  # fmt: skip


@campaign_app.command("show")
def show(
    campaign_id: Annotated[str, typer.Argument(help="The campaign.")],
    workspace: WorkspaceOption = None,
) -> None:
    """The campaign's state, its current definition and its history, as JSON."""
    from lodestar.campaigns.lifecycle import Campaigns

    with open_workspace(workspace) as ws:
        campaigns = Campaigns(ws.ops)
        body = {"campaign": campaigns.get(campaign_id).as_dict(),
                "definition": campaigns.definition(campaign_id).model_dump(mode="json"),
                "history": campaigns.history(campaign_id)}  # fmt: skip
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


@campaign_app.command("send")
def send(
    campaign_id: Annotated[str, typer.Argument(help="A running campaign.")],
    plan: Annotated[str, typer.Option(help="The plan whose contacts to send (CAMPAIGN-vN).")],
    step: Annotated[str, typer.Option(help="The journey step these sends are.")] = "1",
    workspace: WorkspaceOption = None,
) -> None:
    """Put a plan's contacts into the outbox (only for a running, approved campaign)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        added = ws.enqueue_plan(campaign_id, plan, step=step)
        console().print(t("camp.enqueued", loc, n=added, id=campaign_id), markup=False)


@campaign_app.command("status")
def status(
    campaign_id: Annotated[str, typer.Argument(help="The campaign.")],
    as_json: Annotated[bool, typer.Option("--json", help="The whole answer as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Live monitoring: per step queued / sent / delivered / opened / clicked / replied, the
    journeys' outcomes (converted = left at the goal), why sends stopped, cost against budget."""
    with open_workspace(workspace) as ws:
        got = ws.campaign_status(campaign_id)
        if as_json:
            typer.echo(json.dumps(got, ensure_ascii=False, indent=2, default=str))
            return
        _print_status(got, locale(ws))


def _print_status(got: dict[str, Any], loc: str) -> None:
    from rich.table import Table

    from lodestar.campaigns.monitoring import FUNNEL, funnel

    c = got["campaign"]
    out = console()
    table = Table(title=t("camp.status.title", loc, id=c["campaign_id"], state=c["state"],
                          version=c["version"]))  # fmt: skip
    table.add_column(t("camp.status.step", loc))
    table.add_column(t("camp.status.channel", loc))
    for name in FUNNEL[:-1]:
        table.add_column(t(f"camp.funnel.{name}", loc), justify="right")
    for step in got["steps"]:
        table.add_row(step["step"], step["channel"],
                      *(f"{int(step.get(n, 0)):,}" for n in FUNNEL[:-1]))  # fmt: skip
    out.print(table)
    out.print(t("camp.status.funnel", loc) + ": " + " -> ".join(
        f"{t(f'camp.funnel.{name}', loc)} {n:,}" for name, n in funnel(got)), markup=False)  # fmt: skip
    if got["journeys"]:
        out.print(t("camp.status.journeys", loc, counts=", ".join(
            f"{k} {v:,}" for k, v in got["journeys"].items())), markup=False)  # fmt: skip
    cost = got["cost"]
    out.print(t("camp.status.cost", loc, spent=cost["spent"], budget=cost["budget"] or "-",
                unpriced=cost["unpriced_messages"]), markup=False)  # fmt: skip
    if got["reasons"]:
        out.print(t("camp.status.reasons", loc, reasons=", ".join(
            f"{r['reason']} {r['count']:,}" for r in got["reasons"])), markup=False)  # fmt: skip


worker_app = typer.Typer(help="Outbox workers.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")


@worker_app.command("run")
def worker_run(
    once: Annotated[bool, typer.Option("--once", help="One batch of sends, then stop.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep running (Ctrl-C stops).")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between rounds when idle.")] = 0.5,
    batch: Annotated[int, typer.Option(help="Rows claimed at a time.")] = 100,
    workspace: WorkspaceOption = None,
) -> None:
    """Run journeys and drain the outbox: due schedules fire, events trigger and move
    customers on, sends go out through the workspace's channels. Stops when nothing is left to
    do, or keeps polling with --follow."""
    import threading

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        if once:
            stats = ws.run_sends(once=True, batch=batch)
            _print_sends(stats, loc)
            return
        stop = threading.Event()
        try:
            journeys, sends = ws.run_worker(follow=follow, poll=poll, batch=batch, stop=stop)
        except KeyboardInterrupt:
            stop.set()
            return
        console().print(t("camp.journeys", loc, **{**journeys.as_dict(), "exited": ", ".join(
            f"{k} {v:,}" for k, v in journeys.exited.items()) or "-"}), markup=False)  # fmt: skip
        _print_sends(sends, loc)


def _print_sends(stats: Any, loc: str) -> None:
    console().print(t("camp.worker", loc, claimed=stats.claimed, sent=stats.sent,
                      duplicate=stats.duplicate, held=stats.held, skipped=stats.skipped,
                      retried=stats.retried, dead=stats.dead), markup=False)  # fmt: skip
