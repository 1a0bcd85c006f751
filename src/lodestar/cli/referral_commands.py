"""`lodestar referral ...`: member-get-member referrals — codes and links, attribution, the
event feed, fraud review, funnel and leaderboard (docs/referrals.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.i18n import t

referral_app = typer.Typer(help="Member-get-member referrals (docs/referrals.md).",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(referral_app, name="referral")

CustomerArg = Annotated[str, typer.Argument(help="The customer.")]


def _say(key: str, loc: str, **params: object) -> None:
    console().print(t(key, loc, **params), markup=False)


@referral_app.command("init")
def init(workspace: WorkspaceOption = None) -> None:
    """Copy the example referrals.yaml (and rights.yaml if missing) into the workspace."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        for path in ws.init_referrals():
            _say("referral.cli.written", loc, path=path)


@referral_app.command("code")
def code(customer_id: CustomerArg, workspace: WorkspaceOption = None) -> None:
    """The customer's referral code (made on first ask, the same ever after)."""
    with open_workspace(workspace) as ws:
        typer.echo(ws.referral_code(customer_id))


@referral_app.command("link")
def link(customer_id: CustomerArg, workspace: WorkspaceOption = None) -> None:
    """The customer's referral link (the landing page with their code)."""
    with open_workspace(workspace) as ws:
        typer.echo(ws.referral_link(customer_id))


@referral_app.command("attribute")
def attribute(
    referee_id: Annotated[str, typer.Argument(help="The new customer.")],
    referral_code: Annotated[str, typer.Argument(help="The code they typed.")],
    at: Annotated[datetime | None,
                  typer.Option("--at", help="When (UTC unless it has an offset; default now).")
                  ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Attribute a referee who typed a code (an earlier touch in the window still wins)."""
    when = None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        referral = ws.attribute_referral(referee_id, referral_code, at=when)
        if referral is None:
            _say("referral.cli.not_attributed", loc, referee=referee_id)
            raise typer.Exit(1)
        _say("referral.cli.attributed", loc, referee=referral.referee_id,
             referrer=referral.referrer_id, how=referral.how, status=referral.status)  # fmt: skip


@referral_app.command("process")
def process(
    limit: Annotated[int, typer.Option(help="Events to read at most.")] = 10_000,
    workspace: WorkspaceOption = None,
) -> None:
    """Advance referrals with the event feed's new events (safe to run in several places)."""
    with open_workspace(workspace) as ws:
        s = ws.process_referrals(limit=limit)
        _say("referral.cli.processed", locale(ws), events=s.events, touches=s.touches,
             attributed=s.attributed, flagged=s.flagged, steps=s.steps, rewards=s.rewards,
             refused=s.refused, withheld=s.withheld)  # fmt: skip


@referral_app.command("funnel")
def funnel(workspace: WorkspaceOption = None) -> None:
    """The referral funnel with conversion between stages, then rewards and cost against
    budget, tab separated."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        typer.echo("\t".join(t(f"referral.cli.col.{c}", loc) for c in ("stage", "count", "rate")))
        for row in ws.referral_funnel():
            rate = "" if row.rate is None else f"{row.rate:.1%}"
            typer.echo(f"{row.stage}\t{row.count}\t{rate}")
        c = ws.referral_costs()
        none = t("referral.cli.no_cap", loc)
        _say("referral.cli.costs", loc, rewards=c["rewards"], cny=c["cny"],
             budget=c["cny_budget"] if c["cny_budget"] is not None else none,
             points=c["points"],
             points_budget=c["points_budget"] if c["points_budget"] is not None else none)  # fmt: skip
        for r in c["rights"]:
            _say("referral.cli.right", loc, right=r["right_id"], issued=r["issued"],
                 cost=r["cost"], left=r["budget_left"])  # fmt: skip


@referral_app.command("leaderboard")
def leaderboard(
    top: Annotated[int, typer.Option(help="How many referrers.")] = 20,
    workspace: WorkspaceOption = None,
) -> None:
    """Top referrers by completed referrals and rewards (ids and masked names), tab
    separated."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        cols = ("referrer", "name", "referees", "completed", "flagged", "reward_cny",
                "reward_points")  # fmt: skip
        typer.echo("\t".join(t(f"referral.cli.col.{c}", loc) for c in cols))
        for b in ws.referral_leaderboard(top=top):
            typer.echo("\t".join(str(b[k] if b[k] is not None else "") for k in
                                 ("referrer_id", "name", "referees", "completed", "flagged",
                                  "reward_cny", "reward_points")))  # fmt: skip


@referral_app.command("review")
def review(
    referral_id: Annotated[int | None,
                           typer.Argument(help="The flagged referral to decide on; without "
                                               "it, list those awaiting review.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Release its rewards.")] = False,
    confirm: Annotated[bool, typer.Option("--confirm", help="Confirm fraud: no rewards.")] = False,
    note: Annotated[str | None, typer.Option(help="Why (no personal data).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """List flagged referrals with their rules and evidence, or clear / confirm one."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        if referral_id is None:
            for f in ws.referral_flags():
                typer.echo(f"{f['referral_id']}\t{f['referrer_id']}\t{f['referee_id']}\t"
                           f"{f['rule']}\t{f['evidence']}")  # fmt: skip
            return
        if clear == confirm:
            _say("referral.cli.clear_or_confirm", loc)
            raise typer.Exit(2)
        done = ws.review_referral(referral_id, "clear" if clear else "confirm", note=note)
        _say("referral.cli.reviewed", loc, referral=referral_id, status=done["status"],
             issued=done["steps_issued"])  # fmt: skip
