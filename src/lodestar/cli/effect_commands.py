"""`lodestar campaign effect CMP`: the campaign's incremental effect against the holdout of its
plan, its goals' targets against the measured lifts, its rounds; ``--report`` writes the HTML
page, ``--json`` prints everything (the same body as ``GET /v1/campaigns/{id}/effect``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.campaign_commands import campaign_app
from lodestar.cli.main import WorkspaceOption, console, locale, open_workspace
from lodestar.i18n import t


@campaign_app.command("effect")
def effect(
    campaign_id: Annotated[str, typer.Argument(help="The campaign.")],
    plan: Annotated[str | None, typer.Option(help="Its plan to measure (CAMPAIGN-vN; "
                                                  "default: the latest).")] = None,
    window_days: Annotated[int | None, typer.Option(min=1, max=365, help=(
        "Attribution window in days (default: the goal's)."))] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Incremental responses, conversions, value, profit, ROI and cost per incremental
    conversion against the plan's holdout, with 95% intervals; goals met / not yet / missed."""
    from rich.table import Table

    from lodestar.reports.effect_report import TEXT, headline_rows, write_effect_report

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        result = ws.campaign_effect(campaign_id, plan_id=plan, window_days=window_days)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
            return
        out = console()
        event = result.event or t("camp.effect.take_up", loc)
        table = Table(title=t("camp.effect.title", loc, id=campaign_id, plan=result.plan_id,
                              days=result.window_days, event=event))  # fmt: skip
        text = TEXT.get(loc, TEXT["en"])
        table.add_column(text["figure"])
        table.add_column(text["value"])
        for label, value in headline_rows(result.effect.overall, text):
            table.add_row(label, value)
        out.print(table)
        if result.window_open:
            out.print(t("camp.effect.open", loc), markup=False)
        for note in result.notes:
            out.print(f"- {note}", markup=False)
        for g in result.targets:
            unit = "%" if g.kind == "relative" else "pp"

            def show(x: float | None, unit: str = unit) -> str:
                return "—" if x is None else f"{100 * x:+.1f}{unit}"

            measured = show(g.measured) + (f" [{show(g.ci[0])}, {show(g.ci[1])}]" if g.ci else "")
            out.print(t("camp.effect.goal", loc, metric=g.metric, event=g.event,
                        target=show(g.target), measured=measured,
                        verdict=t(f"camp.effect.{g.verdict}", loc)), markup=False)  # fmt: skip
        if len(result.rounds) > 1:
            for r in result.rounds:
                lift = "—" if r.lift_pp is None else f"{r.lift_pp:+.2f}"
                change = "" if r.change_pp is None else t("camp.effect.change", loc,
                                                          change=f"{r.change_pp:+.2f}")  # fmt: skip
                out.print(t("camp.effect.round", loc, label=r.label, lift=lift, change=change),
                          markup=False)  # fmt: skip
        if report is not None:
            path = write_effect_report(result, report, locale=loc)
            out.print(t("camp.effect.report", loc, path=path), markup=False)
