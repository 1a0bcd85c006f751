"""``lodestar demo``: the main job on the embedded default, one command end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli.main import WorkspaceOption, command, console, handled, locale, progress_bar
from lodestar.i18n import t

if TYPE_CHECKING:
    from lodestar.experiments.campaign_effect import CampaignEffect
    from lodestar.workspace import DemoOutcome


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
        print_summary(outcome, loc)


def print_summary(outcome: DemoOutcome, loc: str) -> None:
    """The few figures a banker would look at first, then where the full report is."""
    from rich.table import Table

    out = console()
    ov = outcome.overview
    table = Table(title=t("cli.demo.title", loc))
    table.add_column(t("cli.demo.figure", loc), min_width=30)
    # long values (persona names) are cut rather than squeezing the labels into many lines
    table.add_column(t("cli.demo.value", loc), max_width=24, no_wrap=True, overflow="ellipsis")
    for name in ("customers", "holdings", "transactions", "events", "consents",
                 "campaign_contacts"):  # fmt: skip
        table.add_row(name, f"{outcome.counts.get(name, 0):,}")
    if ov.concentration:
        table.add_row(t("cli.demo.top20", loc), f"{ov.concentration.top20_share:.1%}")
        table.add_row(t("cli.demo.gini", loc), f"{ov.concentration.gini:.3f}")
    funnel = dict(ov.funnel)
    if funnel.get("register"):
        table.add_row(t("cli.demo.funnel", loc), f"{funnel['drawdown'] / funnel['register']:.1%}")
    for c in ov.campaigns:
        truth = "" if c.get("true_uplift") is None else f" / {c['true_uplift']:+.2%}"
        table.add_row(
            t("cli.demo.uplift", loc, campaign=c["campaign_id"]),
            f"{c['observed_uplift']:+.2%}{truth}",
        )
    if ov.nps:
        table.add_row("NPS", f"{ov.nps['nps']:.1f}")
    for g in outcome.rfm[:1]:  # the classic headline: the important-value group
        table.add_row(
            t("cli.demo.rfm", loc, group=g["group"] if loc == "zh-CN" else g["group_en"]),
            f"{g['share']:.1%} / {g['monetary_share']:.1%}",
        )
    prof = outcome.profile
    if prof is not None:
        top = [r for r in prof.tiers.summary if r["value_tier"] in ("private_banking", "affluent")]
        if top:
            table.add_row(t("cli.demo.tiers", loc),
                          f"{sum(r['customer_share'] for r in top):.1%} / "
                          f"{sum(r['value_share'] for r in top):.1%}")  # fmt: skip
        dist = prof.lifecycle.distribution()
        table.add_row(t("cli.demo.stages", loc), " / ".join(
            f"{dist.get(k, 0.0):.1%}" for k in ("mature", "declining", "churned")))  # fmt: skip
        table.add_row(t("cli.demo.personas", loc), f"{prof.personas.k}: " + "、".join(
            p.name if loc == "zh-CN" else p.name_en for p in prof.personas.profiles))  # fmt: skip
        table.add_row(t("cli.demo.tags", loc), f"{prof.tags.tags} ({prof.tags.seconds:.1f}s)")
    if outcome.segments:
        name = max(outcome.segments, key=lambda n: outcome.segments[n])
        table.add_row(t("cli.demo.segments", loc, name=name),
                      f"{len(outcome.segments)} / {outcome.segments[name]:,}")  # fmt: skip
    out.print(table)
    if outcome.models is not None:
        from lodestar.cli.model_commands import print_portfolio

        print_portfolio(outcome.models.trained, loc, outcome.models.skipped)
    if outcome.plan is not None:
        from lodestar.cli.plan_commands import print_summary

        print_summary(outcome.plan, loc)
    if outcome.iteration is not None:
        it = outcome.iteration
        out.print(t("cli.demo.iteration", loc, experiment=it.pool.key, round=it.pool.round,
                    path=it.log_path), markup=False)  # fmt: skip
        for change in it.changes:
            out.print(f"  {change.arm}: {change.before:.1%} -> {change.after:.1%}  "
                      f"{change.reason(loc)}", markup=False)  # fmt: skip
    if outcome.effect is not None:
        print_effect(*outcome.effect, loc)
    if outcome.journey is not None:
        from lodestar.campaigns.monitoring import funnel as campaign_funnel

        j = outcome.journey
        out.print(t("cli.demo.journey", loc, campaign=j["campaign"]["campaign_id"],
                    state=j["campaign"]["state"]), markup=False)  # fmt: skip
        out.print("  " + " -> ".join(f"{t(f'camp.funnel.{k}', loc)} {n:,}"
                                     for k, n in campaign_funnel(j)), markup=False)  # fmt: skip
    out.print(t("cli.demo.done", loc, seconds=outcome.seconds, report=outcome.report_path))


def print_effect(campaign: str, effect: CampaignEffect, true: float | None, loc: str) -> None:
    """A past campaign's incremental conversions and value with 95% intervals (and, on the
    synthetic bank, the true incremental conversions the interval should cover)."""
    o = effect.overall
    out = console()
    out.print(t("cli.demo.effect", loc, campaign=campaign, treated=o.treated,
                control=o.control), markup=False)  # fmt: skip
    c, v = o.conversions, o.value

    def ci(x: float | None, bounds: tuple[float, float] | None) -> str:
        if x is None or bounds is None:
            return "—"
        return f"{x:,.0f} [{bounds[0]:,.0f}, {bounds[1]:,.0f}]"

    conversions = ci(c.incremental, c.incremental_ci) + (
        f" ({c.treated_mean:.2%} vs {c.control_mean:.2%})" if c.measurable else "")  # fmt: skip
    if true is not None:
        conversions += t("cli.demo.effect.true", loc, true=f"{true:,.0f}")
    out.print(t("cli.demo.effect.line", loc, conversions=conversions,
                value=ci(v.incremental, v.incremental_ci)), markup=False)  # fmt: skip
