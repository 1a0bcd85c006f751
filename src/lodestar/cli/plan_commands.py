"""`lodestar offers ...`, `lodestar plan CAMPAIGN.yaml`, `lodestar plans`, `lodestar explain`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lodestar.cli.main import (
    WorkspaceOption,
    app,
    command,
    console,
    locale,
    open_workspace,
    progress_bar,
)
from lodestar.i18n import t

offers_app = typer.Typer(help="The offer catalogue: init, check (docs/decisioning.md).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(offers_app, name="offers")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@offers_app.command("init")
def offers_init(
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the example offers.yaml and campaign.yaml into the workspace."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        written = ws.init_offers(overwrite=overwrite)
        out = console()
        for name in ("offers.yaml", "campaign.yaml"):
            path = ws.root / name
            key = "plan.offers.written" if path in written else "plan.offers.kept"
            out.print(t(key, loc, path=path), markup=False)


@offers_app.command("check")
def offers_check(
    file: Annotated[Path | None, typer.Argument(help="Catalogue (default: offers.yaml).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Validate the offer catalogue: every problem with its line and field."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        catalogue = ws.offer_catalogue(file)
        products = {r["product_id"]: r for r in
                    ws.query("SELECT product_id FROM products").to_pylist()}  # fmt: skip
        catalogue.check_products(products, str(file or ws.root / "offers.yaml"))
        console().print(t("plan.offers.ok", loc, n=len(catalogue),
                          channels=", ".join(catalogue.channels())), markup=False)  # fmt: skip


@command
def plan(
    campaign: Annotated[Path, typer.Argument(help="Campaign plan YAML (see docs/decisioning.md).")],
    offers: Annotated[Path | None, typer.Option(help="Offer catalogue (default: the "
                                                     "workspace's offers.yaml).")] = None,
    policy: Annotated[str | None, typer.Option(help="Contact policy name (default: the "
                                                    "one in force).")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Plan a campaign: who gets which offer, channel, time, limit and rate, within budget."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            saved = ws.plan(campaign, offers=offers, policy=policy, progress=progress)
        if json_:
            typer.echo(json.dumps(saved.summary, ensure_ascii=False, default=str))
            return
        print_summary(saved.summary, loc)
        console().print(t("plan.written", loc, path=saved.path), markup=False)


def print_summary(s: dict[str, Any], loc: str) -> None:
    from rich.table import Table

    out = console()
    out.print(t("plan.done", loc, plan_id=s["plan_id"], contacts=s["contacts"],
                holdout=s["holdout_tracked"], customers=s["customers"], cost=s["expected_cost"],
                conv=s["expected_incremental_conversions"],
                value=s["expected_incremental_value"], net=s["expected_net"]),
              markup=False)  # fmt: skip
    if s.get("budget"):
        out.print(t("plan.budget", loc, budget=s["budget"], use=s["budget_use"] or 0.0))
    opt = s["optimiser"]
    out.print(t("plan.gap", loc, objective=opt["objective"], bound=opt["upper_bound"],
                gap=opt["gap"] or 0.0))  # fmt: skip
    funnel = Table(title=t("plan.funnel", loc))
    for key in ("step", "customers", "dropped"):
        funnel.add_column(t(f"plan.col.{key}", loc), justify="left" if key == "step" else "right")
    for row in s["funnel"]:
        funnel.add_row(str(row["step"]), f"{row['customers']:,}", f"{row['dropped']:,}")
    out.print(funnel)
    compare = Table(title=t("plan.compare", loc))
    for key in ("plan", "contacts", "cost", "conversions", "net", "share"):
        # fold, never truncate: the plan's name is the point of the row
        compare.add_column(t(f"plan.col.{key}", loc), overflow="fold",
                           justify="left" if key == "plan" else "right")  # fmt: skip
    for row in s["comparison"]:
        share = row.get("share_of_plan")
        compare.add_row(t(f"plan.name.{row['plan']}", loc), f"{row['contacts']:,}",
                        f"{row['expected_cost']:,.2f}",
                        f"{row['expected_incremental_conversions']:,.1f}",
                        f"{row['expected_net']:,.2f}",
                        "" if share is None else f"{share:.0%}")  # fmt: skip
    out.print(compare)


@command
def plans(
    plan_id: Annotated[str | None, typer.Argument(help="A plan to show (CAMPAIGN-vN).")] = None,
    recheck: Annotated[bool, typer.Option("--recheck", help="Check the plan's contacts against "
                                                            "the contact policy as things are "
                                                            "now.")] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the plans, or show one plan's summary (or re-check its contacts)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        if plan_id is not None and recheck:
            checked = ws.recheck_plan(plan_id)
            blocked = checked[~checked["still_allowed"]]
            if json_:
                typer.echo(json.dumps({
                    "plan_id": plan_id, "contacts": len(checked),
                    "still_allowed": int(checked["still_allowed"].sum()),
                    "blocked": blocked[["customer_id", "channel", "reason"]].to_dict("records"),
                }, ensure_ascii=False, default=str))  # fmt: skip
                return
            console().print(t("plan.recheck", loc, plan_id=plan_id, contacts=len(checked),
                              allowed=int(checked["still_allowed"].sum())), markup=False)  # fmt: skip
            for reason, n in blocked["reason"].value_counts().items():
                console().print(f"  - {reason}: {n:,}", markup=False)
            return
        if plan_id is not None:
            saved = ws.saved_plan(plan_id)
            if json_:
                typer.echo(json.dumps(saved.summary, ensure_ascii=False, default=str))
            else:
                print_summary(saved.summary, loc)
            return
        found = ws.plans()
        if json_:
            typer.echo(json.dumps([p.summary for p in found], ensure_ascii=False, default=str))
            return
        if not found:
            console().print(t("plan.none", loc), markup=False)
        for p in found:
            s = p.summary
            console().print(f"{p.plan_id}  {s.get('send_on')}  {s.get('contacts', 0):,}  "
                            f"{s.get('expected_net', 0):,.2f}  {s.get('created_at', '')}",
                            markup=False)  # fmt: skip


@command
def explain(
    plan_id: Annotated[str, typer.Argument(help="The plan (CAMPAIGN-vN).")],
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Why a customer got this offer, channel and time in a plan — or nothing."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        result = ws.explain_plan(plan_id, customer_id)
        if json_:
            typer.echo(json.dumps(result, ensure_ascii=False, default=str))
            return
        out = console()
        out.print(t("plan.explain.decision", loc, customer=customer_id, plan_id=plan_id,
                    decision=t(f"plan.decision.{result['decision']}", loc)), markup=False)  # fmt: skip
        for action in result["actions"]:
            out.print("  " + ", ".join(f"{k}={v}" for k, v in action.items() if v is not None),
                      markup=False)  # fmt: skip
        out.print(t("plan.explain.why", loc) + ":", markup=False)
        for line in result["why"]:
            out.print(f"  - {line}", markup=False)
        sections = (("offers_not_eligible", "offer_id"), ("channels_refused", "channel"))
        for key, name in sections:
            if result[key]:
                out.print(t(f"plan.explain.{key.split('_')[0]}", loc) + ":", markup=False)
                for row in result[key]:
                    out.print(f"  - {row[name]}: {row['rule']}", markup=False)
        if result["candidates"]:
            out.print(t("plan.explain.candidates", loc) + ":", markup=False)
            for c in result["candidates"][:10]:
                out.print(f"  - {c['offer_id']} / {c['channel']}: effect {c['effect']:.4f}, "
                          f"value {c['weighted']:.2f}, cost {c['cost']:.2f}"
                          f"{' *' if c.get('chosen') else ''}", markup=False)  # fmt: skip


@command
def decide(
    customer_id: Annotated[str | None, typer.Argument(help="The customer.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel's actions (the "
                                                     "asking touchpoint, e.g. in_app).")] = None,
    page: Annotated[str | None, typer.Option(help="Page or screen asking (context).")] = None,
    event: Annotated[str | None, typer.Option(help="Event that triggered the ask.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Answer without booking the "
                                                            "contact against the caps.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Rebuild the decision snapshot "
                                                            "first (offers, models, profile).")] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Real-time next-best-action for one customer, under the contact policy and caps."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        if refresh:
            with progress_bar(loc) as progress:
                meta = ws.build_decision_snapshot(progress=progress)
            if not json_:
                console().print(t("plan.snapshot", loc, candidates=meta["candidates"],
                                  customers=meta["customers"]), markup=False)  # fmt: skip
        if customer_id is None:
            return
        context = {k: v for k, v in (("page", page), ("event", event)) if v}
        decision = ws.decide(customer_id, channel=channel, context=context, reserve=not dry_run)
        if json_:
            typer.echo(json.dumps(decision.as_dict(), ensure_ascii=False, default=str))
            return
        out = console()
        out.print(t(f"plan.decide.{decision.outcome}", loc, customer=customer_id,
                    offer=decision.offer_id, channel=decision.channel,
                    send_at=decision.send_at, net=decision.expected_net or 0.0,
                    ms=decision.milliseconds), markup=False)  # fmt: skip
        if decision.credit_limit is not None:
            out.print(t("plan.decide.credit", loc, limit=decision.credit_limit,
                        rate=decision.credit_rate or 0.0), markup=False)  # fmt: skip
        for line in decision.reasons:
            out.print(f"  - {line}", markup=False)
