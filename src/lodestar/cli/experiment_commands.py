"""`lodestar experiment ...`: analyse a randomised experiment from a file or a workspace table,
and size one before it starts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from lodestar.cli.main import WorkspaceOption, app, console, handled, locale, open_workspace
from lodestar.i18n import t

experiment_app = typer.Typer(help="Experiments: analyze, size (docs/experiments.md).",
                             no_args_is_help=True)  # fmt: skip
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("analyze")
def analyze(
    source: Annotated[str, typer.Argument(help="A CSV / Parquet file, or a workspace table.")],
    arm: Annotated[str, typer.Option(help="Column holding each row's arm.")],
    control: Annotated[str, typer.Option(help="The control arm's value.")],
    metric: Annotated[list[str], typer.Option(help="Outcome column (repeat for several).")],
    covariate: Annotated[str | None, typer.Option(help="Pre-period covariate for CUPED.")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    report: Annotated[str | None, typer.Option(help="Also write an HTML report with charts "
                                                    "(lift with intervals, posteriors).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Every arm against the control on every metric: lifts with intervals, p-values (Holm-
    adjusted across arms and metrics), chance to beat control, CUPED, sample-ratio check."""
    from pathlib import Path

    from lodestar.experiments.analysis import analyse, arm_statistics

    is_file = Path(source).is_file()
    with handled():
        if is_file:
            import duckdb

            with duckdb.connect() as con:
                sums = arm_statistics(con, source, arm, metric, covariate=covariate)
            loc = locale()
        else:
            with open_workspace(workspace) as ws:
                loc = locale(ws)
                sums = arm_statistics(lambda sql: [tuple(r.values()) for r in
                                                   ws.query(sql).to_pylist()],
                                      source, arm, metric, covariate=covariate)  # fmt: skip
        result = analyse(sums, control, alpha=alpha, covariate=covariate is not None)
    if report is not None:
        from lodestar.reports.experiment_report import write_experiment_report

        write_experiment_report(result, report, name=Path(source).stem, alpha=alpha, locale=loc)
    if json_:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
        return
    _print(result, loc)


def _print(result: Any, loc: str) -> None:
    from rich.table import Table

    out = console()
    out.print(t("exp.counts", loc, counts=", ".join(f"{a} {n:,}" for a, n in
                                                   result.counts.items()),
                p=result.srm_p_value), markup=False)  # fmt: skip
    if result.srm:
        out.print(t("exp.srm", loc), markup=False)
    table = Table()
    for key in ("metric", "arm", "n", "mean", "lift", "ci", "relative", "p", "p_holm", "beat"):
        table.add_column(t(f"exp.col.{key}", loc), overflow="fold",
                         justify="left" if key in ("metric", "arm") else "right")  # fmt: skip
    for r in result.results:
        c = r.comparison
        if c is None:
            table.add_row(r.metric, r.arm, f"{r.n:,}", f"{r.mean:.4f}", "", "", "", "", "", "")
            continue
        table.add_row(r.metric, r.arm, f"{r.n:,}", f"{r.mean:.4f}", f"{c.absolute:+.4f}",
                      f"[{c.absolute_ci[0]:+.4f}, {c.absolute_ci[1]:+.4f}]",
                      f"{c.relative:+.1%}", f"{c.p_value:.2g}", f"{r.p_holm:.2g}",
                      f"{c.chance_to_beat:.1%}")  # fmt: skip
    out.print(table)


@experiment_app.command("size")
def size(
    baseline: Annotated[float, typer.Option(help="Control conversion rate, e.g. 0.05.")],
    lift: Annotated[float | None, typer.Option(help="Absolute lift to detect, e.g. 0.01.")] = None,
    n: Annotated[int | None, typer.Option(help="Customers per arm (gives the MDE).")] = None,
    alpha: Annotated[float, typer.Option()] = 0.05,
    power: Annotated[float, typer.Option()] = 0.8,
) -> None:
    """Customers per arm to detect a lift, or the smallest lift a given size detects."""
    from lodestar.experiments.power import minimum_detectable_effect, sample_size_proportions

    loc = locale()
    with handled():
        if lift is not None:
            needed = sample_size_proportions(baseline, lift, alpha=alpha, power=power)
            console().print(t("exp.size", loc, n=needed, baseline=baseline, lift=lift,
                              power=power, alpha=alpha), markup=False)  # fmt: skip
        elif n is not None:
            mde = minimum_detectable_effect(baseline, n, alpha=alpha, power=power)
            console().print(t("exp.mde", loc, n=n, mde=mde, baseline=baseline, power=power,
                              alpha=alpha), markup=False)  # fmt: skip
        else:
            raise typer.BadParameter("give --lift (for a size) or --n (for the MDE)")


@experiment_app.command("iterate")
def iterate(
    key: Annotated[
        str, typer.Argument(help="The experiment's key (its folder under experiments/).")
    ],
    stats: Annotated[str, typer.Option(help="CSV: arm, n, conversions[, revenue, revenue_sq].")],
    policy: Annotated[str | None, typer.Option(help="thompson or champion (first round).")] = None,
    metric: Annotated[str | None, typer.Option(help="conversion or revenue (per contact).")] = None,
    champion: Annotated[
        str | None, typer.Option(help="First champion (default: first arm).")
    ] = None,
    floor: Annotated[float | None, typer.Option(help="Minimum share per active arm.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Chance to beat to promote.")] = None,
    min_n: Annotated[int | None, typer.Option(help="Observations before rules act.")] = None,
    pause: Annotated[list[str] | None, typer.Option(help="Pause a strategy (repeat).")] = None,
    resume: Annotated[list[str] | None, typer.Option(help="Resume a strategy (repeat).")] = None,
    by: Annotated[str, typer.Option(help="Who pauses or resumes.")] = "",
    why: Annotated[str, typer.Option(help="Why (for the log).")] = "",
    json_: Annotated[bool, typer.Option("--json", help="The changes as JSON lines.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """One round of automatic iteration: strategies enter and leave by the rules, traffic is
    re-split (Thompson sampling or champion / challenger), every change is logged with its
    reason in experiments/KEY/changes.jsonl."""
    kind = {"conversion": "proportion", "revenue": "mean", None: None}.get(metric, metric)
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with handled():
            result = ws.iterate_strategies(key, stats, champion=champion, pause=pause or (),
                               resume=resume or (), by=by, why=why, policy=policy, kind=kind,
                               floor=floor, threshold=threshold, min_n=min_n)  # fmt: skip
    if json_:
        for c in result.changes:
            typer.echo(json.dumps(c.as_dict(), ensure_ascii=False, default=float))
        return
    out = console()
    out.print(t("exp.iter.round", loc, experiment=key, round=result.pool.round,
                changes=len(result.changes)), markup=False)  # fmt: skip
    _print_changes(result.changes, loc, with_round=False)
    out.print(t("exp.iter.shares", loc, shares=", ".join(
        f"{n} {s.share:.1%}" + (f" ({t('exp.role.' + s.role, loc)})" if s.role != "arm" else "")
        for n, s in result.pool.strategies.items())), markup=False)  # fmt: skip
    out.print(t("exp.iter.logged", loc, path=result.log_path), markup=False)


@experiment_app.command("log")
def log(
    key: Annotated[str, typer.Argument(help="The experiment's key.")],
    json_: Annotated[bool, typer.Option("--json", help="The log as JSON lines.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Every logged change of an experiment's strategy pool, oldest first, with its reason."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with handled():
            changes = ws.strategy_log(key)
    if json_:
        for c in changes:
            typer.echo(json.dumps(c.as_dict(), ensure_ascii=False, default=float))
        return
    if not changes:
        path = ws.root / "experiments" / key / "changes.jsonl"
        console().print(t("exp.log.empty", loc, experiment=key, path=path), markup=False)
        return
    _print_changes(changes, loc, with_round=True)


def _print_changes(changes: Any, loc: str, *, with_round: bool) -> None:
    """One line per change and its reason under it: reasons are sentences, too long for a
    table's column in a terminal."""
    out = console()
    for c in changes:
        head = f"[{t('exp.col.round', loc)} {c.round}] " if with_round else ""
        out.print(f"{head}{c.arm}: {c.before:.1%} -> {c.after:.1%}  ({c.rule}; {c.decided_by})",
                  markup=False)  # fmt: skip
        out.print(f"    {c.reason(loc)}", markup=False)
