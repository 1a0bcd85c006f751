"""`lodestar model ...`: train from a file or the workspace, list, show, promote, evaluate,
score and report models (docs/models.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.i18n import t

model = typer.Typer(
    help="Models: train, evaluate, list, show, promote, score, report (docs/models.md).",
    no_args_is_help=True,
)
app.add_typer(model, name="model")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@model.command("train")
def train(
    kind: Annotated[
        str,
        typer.Argument(help="risk, response, uplift, scorecard, churn or nbp (next best product)."),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="CSV (, ; | or tab) or Parquet file (default: learn from the workspace).",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Column to predict (with --data): 0/1, true/false, yes/no, or see --positive.",
            show_default=False,
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            help="Workspace response / uplift: the past randomised campaign to learn from.",
            show_default=False,
        ),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            help="Workspace churn / risk / nbp: days after the cut-off the label looks at.",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", help="A column to leave out (repeat for several).", show_default=False
        ),
    ] = None,
    test_size: Annotated[
        float, typer.Option("--test-size", help="Share of rows held out for evaluation.")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Fixes the split and the training.")] = 0,
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive",
            help="The target value that counts as positive (every other value is negative).",
            show_default=False,
        ),
    ] = None,
    treatment: Annotated[
        str | None,
        typer.Option(
            "--treatment",
            help="Uplift: the column holding each row's arm (control: 0, control, none or no).",
            show_default=False,
        ),
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Train on --data FILE (or the workspace), evaluate on a held-out split fixed by --seed,
    and register the model."""
    with open_workspace(workspace) as ws:
        from lodestar.modeling.registry import model_kind

        model_kind(kind)  # an unknown kind fails before the file is read
        loc = locale(ws)
        if not json_:
            where = data if data is not None else t("model.workspace", loc)
            console(stderr=True).print(t("model.training", loc, kind=kind, where=where),
                                       markup=False)  # fmt: skip
        result = ws.train_model(kind, data, target, exclude=exclude or (), test_size=test_size,
                                seed=seed, positive=positive, treatment=treatment,
                                campaign=campaign, horizon_days=horizon)  # fmt: skip
        summary = result.summary()
        if json_:
            typer.echo(json.dumps(summary, ensure_ascii=False))
            return
        out = console()
        trees = t("model.trees", loc, n=summary["trees"]) if "trees" in summary else ""
        out.print(t("model.trained", loc, model_id=result.model_id, train=result.rows_train,
                    test=result.rows_test, trees=trees, seconds=result.train_seconds),
                  markup=False)  # fmt: skip
        _print_metrics(result.metrics, t("model.heldout", loc), loc)
        for column, why in result.data.dropped.items():
            out.print(t("model.left_out", loc, column=column, why=why), markup=False)
        if result.data.rows_without_target:
            out.print(t("model.skipped", loc, n=result.data.rows_without_target), markup=False)


def _print_metrics(metrics: dict[str, float], title: str, loc: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column(t("model.metric.metric", loc))
    table.add_column(t("model.metric.value", loc), justify="right")
    for key, value in metrics.items():
        if value is None or math.isnan(value):  # not defined for this outcome
            continue
        shown = f"{value:.1%}" if key in ("capture_top_20", "positive_rate") else f"{value:.3f}"
        label = t(f"model.metric.{key}", loc)
        table.add_row(key if label.startswith("model.metric.") else label, shown)
    console().print(table)


@model.command("list")
def list_(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Registered models, oldest first."""
    from dataclasses import asdict

    with open_workspace(workspace) as ws:
        records = ws.models(kind)
        if json_:
            typer.echo(json.dumps([asdict(r) for r in records], ensure_ascii=False))
            return
        if not records:
            console().print(t("model.none", locale(ws)), markup=False)
            return
        from rich.table import Table

        champions = set(ws.model_registry.champions().values())
        table = Table()
        for name in ("id", "stage", "created (UTC)", "target", "AUC", "lift@10%", "rows"):
            table.add_column(name, no_wrap=True)
        for r in records:
            table.add_row(
                r.id,
                "champion" if r.id in champions else "",
                r.created_at.replace("T", " ")[:16],
                f"{r.target}={r.positive}",
                _number(r.metrics.get("auc")),
                _number(r.metrics.get("lift_top_decile"), 2),
                f"{r.data.get('rows', 0):,}",
            )
        console().print(table)


@model.command("show")
def show(
    model_id: Annotated[str, typer.Argument(help="A model id, e.g. response-v1.")],
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Everything recorded about one model: data, split, parameters, features, metrics."""
    from dataclasses import asdict

    with open_workspace(workspace) as ws:
        record = ws.model(model_id)
        if json_:
            typer.echo(json.dumps(asdict(record), ensure_ascii=False))
            return
        out = console()
        out.print(f"{record.id} ({record.kind}), created {record.created_at}", markup=False)
        out.print(f"target: {record.target} (positive: {record.positive})", markup=False)
        data = record.data
        out.print(f"data: {data.get('path')} ({data.get('rows', 0):,} rows, sha256 "
                  f"{str(data.get('sha256', ''))[:16]}…)", markup=False)  # fmt: skip
        split = record.split
        out.print(f"split: {split.get('rows_train', 0):,} train / {split.get('rows_test', 0):,} "
                  f"test, test share {split.get('test_size')}, seed {split.get('seed')}",
                  markup=False)  # fmt: skip
        if data.get("excluded"):
            out.print(f"excluded: {', '.join(data['excluded'])}", markup=False)
        for column, why in (data.get("dropped") or {}).items():
            out.print(f"left out {column}: {why}", markup=False)
        kinds: dict[str, list[str]] = {}
        for name, kind in record.features.items():
            kinds.setdefault(kind, []).append(name)
        for kind, names in kinds.items():
            out.print(f"{kind} features ({len(names)}): {', '.join(names)}", markup=False)
        params = ", ".join(f"{k}={v}" for k, v in record.parameters.items())
        out.print(f"parameters: {params}", markup=False)
        out.print(f"training time: {record.train_seconds:.1f} s", markup=False)
        _print_metrics(record.metrics, t("model.heldout", locale(ws)), locale(ws))


def _number(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


@model.command("promote")
def promote(
    model_id: Annotated[str, typer.Argument(help="The model to make its kind's champion.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the promotion history and audit trail).")
    ] = "",
    workspace: WorkspaceOption = None,
) -> None:
    """Make MODEL_ID the champion of its kind: scoring by kind and decisioning use it."""
    with open_workspace(workspace) as ws:
        replaced = ws.promote_model(model_id, reason=reason)
        loc = locale(ws)
        note = t("model.replaces", loc, old=replaced) if replaced and replaced != model_id else ""
        console().print(t("model.promoted", loc, model_id=model_id) + note, markup=False)


def _write_table(frame: Any, out: Path) -> None:
    """Write ``frame`` as CSV or Parquet by the file's suffix."""
    from lodestar.errors import ConfigError

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(out, index=False)
    elif suffix in (".csv", ".txt"):
        frame.to_csv(out, index=False)
    else:
        raise ConfigError(f"{out}: unknown output type '{suffix}'", hint="use .csv or .parquet")


def _show_frame(frame: Any, limit: int = 15, loc: str = "en") -> None:
    from rich.table import Table

    table = Table()
    for column in frame.columns:
        table.add_column(str(column), no_wrap=True)
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console().print(table)
    if len(frame) > limit:
        console().print(t("model.more_rows", loc, n=len(frame) - limit), markup=False)


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="CSV / Parquet rows to score (default: the workspace's customers).",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Write every row to this .csv or .parquet file.", show_default=False
    ),
]


@model.command("score")
def score(
    model_ref: Annotated[
        str, typer.Argument(metavar="MODEL", help="A model id, or a kind (its champion).")
    ],
    data: DataOption = None,
    out: OutOption = None,
    reasons: Annotated[
        int, typer.Option("--reasons", help="Reason codes per row (binary kinds).")
    ] = 0,
    top: Annotated[int, typer.Option("--top", help="Products per row (nbp).")] = 3,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Columns to copy into the output (default customer_id)."),
    ] = None,
    cutoff: Annotated[
        float | None,
        typer.Option(
            "--cutoff",
            help="Risk pre-screen: decline above this probability (adds prescreen, reasons).",
            show_default=False,
        ),
    ] = None,
    decline_share: Annotated[
        float | None,
        typer.Option(
            "--decline-share",
            help="Risk pre-screen: decline the riskiest share, e.g. 0.1.",
            show_default=False,
        ),
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Score rows with MODEL: probabilities (and points, bands, reasons), uplift, or products."""
    from lodestar.cli.main import progress_bar
    from lodestar.modeling.scoring import PrescreenPolicy

    with open_workspace(workspace) as ws:
        policy = None
        if cutoff is not None or decline_share is not None:
            policy = PrescreenPolicy(max_probability=cutoff, decline_share=decline_share)
            reasons = reasons or 3
        with progress_bar(locale(ws)) as progress:
            outcome = ws.score_model(model_ref, data, reasons=reasons, top=top,
                                     keep=keep or ("customer_id",), prescreen=policy,
                                     progress=progress)  # fmt: skip
        frame = outcome.scores
        if out is not None:
            _write_table(frame, out)
        summary: dict[str, Any] = {
            "model_id": outcome.model_id,
            "kind": outcome.kind,
            "rows": len(frame),
            "seconds": round(outcome.seconds, 3),
            "rows_per_second": round(len(frame) / outcome.seconds) if outcome.seconds else None,
            "out": str(out) if out else None,
        }
        if "prescreen" in frame.columns:
            summary["declined"] = int((frame["prescreen"] == "decline").sum())
        if "probability" in frame.columns and len(frame):
            summary["mean_probability"] = round(float(frame["probability"].mean()), 6)
        if json_:
            if out is None:
                summary["scores"] = json.loads(frame.head(1000).to_json(orient="records"))
            typer.echo(json.dumps(summary, ensure_ascii=False))
            return
        loc = locale(ws)
        console(stderr=True).print(
            t("model.scored", loc, model_id=outcome.model_id, rows=len(frame),
              seconds=outcome.seconds) + (t("model.written", loc, out=out) if out else ""),
            markup=False,
        )  # fmt: skip
        if "declined" in summary:
            console().print(t("model.prescreen", loc, declined=summary["declined"],
                              rows=len(frame)), markup=False)  # fmt: skip
        _show_frame(frame, loc=loc)


@model.command("watchlist")
def watchlist(
    model_ref: Annotated[
        str, typer.Argument(metavar="MODEL", help="A churn model id, or 'churn' (its champion).")
    ] = "churn",
    data: DataOption = None,
    out: OutOption = None,
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            help="Column of each customer's value (orders by value at risk).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[int | None, typer.Option("--top", help="Only the first N.")] = 50,
    min_probability: Annotated[
        float, typer.Option("--min-probability", help="Leave out customers below this.")
    ] = 0.2,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Churn watch list: likely leavers, value at risk and their leading indicators."""
    from lodestar.modeling.watch_list import WatchLevels

    with open_workspace(workspace) as ws:
        listed = ws.churn_watch_list(model_ref, data, value=value, top=top,
                                     levels=WatchLevels(min_probability=min_probability))  # fmt: skip
        if out is not None:
            _write_table(listed, out)
        if json_:
            typer.echo(listed.to_json(orient="records", force_ascii=False))
            return
        _show_frame(listed, limit=top or 50, loc=locale(ws))


@model.command("terms")
def terms(
    model_ref: Annotated[
        str, typer.Argument(metavar="MODEL", help="A scorecard id, or 'scorecard' (champion).")
    ] = "scorecard",
    data: DataOption = None,
    out: OutOption = None,
    income: Annotated[
        str, typer.Option("--income", help="Column of monthly income.")
    ] = "monthly_income",
    debt: Annotated[
        str, typer.Option("--debt", help="Column of existing monthly debt service.")
    ] = "monthly_debt",
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Credit policy YAML (default: credit_policy.yaml in the workspace, else built-in).",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        int, typer.Option("--explain", help="Explain the limit and rate of the first N rows.")
    ] = 5,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Credit limit and rate per row from a scorecard's points, income and existing debt."""

    with open_workspace(workspace) as ws:
        frame = ws.credit_terms(model_ref, data, income=income, debt=debt, policy=policy,
                                explain=explain, locale=locale(ws))  # fmt: skip
        if out is not None:
            _write_table(frame, out)
        if json_:
            typer.echo(frame.head(1000).to_json(orient="records", force_ascii=False))
            return
        shown = [c for c in frame.columns if c not in ("explanation",)
                 and not c.startswith("reason_")]  # fmt: skip
        loc = locale(ws)
        _show_frame(frame[shown], loc=loc)
        approved = frame.loc[~frame["declined"], "limit"]
        console().print(t("model.terms", loc, declined=int(frame["declined"].sum()),
                          rows=len(frame), limit=approved.mean() if len(approved) else 0.0),
                        markup=False)  # fmt: skip
        if "explanation" in frame.columns:
            for i, text in enumerate(frame["explanation"].head(explain)):
                console().print(f"[{i}] {text}", markup=False)


@model.command("evaluate")
def evaluate(
    model_ref: Annotated[str, typer.Argument(metavar="MODEL", help="A model id, or a kind.")],
    data: DataOption = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the HTML report with monitoring here."),
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Assess MODEL on new rows: AUC on new outcomes (decay), PSI / CSI drift, alerts.

    Exits with 2 when an alert (not a warning) is raised, so schedulers can react.
    """

    with open_workspace(workspace) as ws:
        result = ws.assess_model(model_ref, data)
        loc = locale(ws)
        if report is not None:
            ws.model_report(result.model_id, report, monitoring=result.monitoring, locale=loc)
        status = result.monitoring.status if result.monitoring else "ok"
        if json_:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        else:
            out = console()
            out.print(t("model.assessed", loc, model_id=result.model_id, rows=result.rows,
                        status=status), markup=False)  # fmt: skip
            if result.metrics:
                _print_metrics(result.metrics, t("model.new_outcomes", loc), loc)
            if result.monitoring is not None:
                m = result.monitoring
                drop = t("model.auc_drop", loc, drop=m.auc_drop) if m.auc_drop is not None else ""
                out.print(t("model.psi", loc, psi=m.score_psi.value, drop=drop), markup=False)
                worst = sorted(m.feature_csi.items(), key=lambda kv: -kv[1].value)[:5]
                for name, table in worst:
                    out.print(f"  CSI {name}: {table.value:.3f}", markup=False)
                for alert in m.alerts:
                    out.print(f"[{alert.level}] {alert.message(loc)}", markup=False)
            if report is not None:
                out.print(t("model.report", loc, path=report), markup=False)
        if status == "alert":
            raise typer.Exit(2)


@model.command("report")
def report_(
    model_ref: Annotated[str, typer.Argument(metavar="MODEL", help="A model id, or a kind.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file (default models/<id>/report.html)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write MODEL's HTML report: gains, ROC, KS, lift, calibration or Qini curves, importance."""

    with open_workspace(workspace) as ws:
        path = ws.model_report(model_ref, out, locale=locale(ws))
        console().print(str(path), markup=False)


@model.command("campaigns")
def campaigns(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Past randomised campaigns that response and uplift models can learn from."""
    with open_workspace(workspace) as ws:
        rows = ws.query(
            "SELECT p.campaign_id, p.name, p.product_id, p.start_date, p.channels, "
            "count(c.customer_id) AS contacts, "
            "count(DISTINCT coalesce(c.treatment, c.arm)) AS arms "
            "FROM past_campaigns p LEFT JOIN campaign_contacts c USING (campaign_id) "
            "GROUP BY ALL ORDER BY p.start_date"
        ).to_pylist()
        if json_:
            typer.echo(json.dumps(rows, ensure_ascii=False, default=str))
            return
        from rich.table import Table

        table = Table()
        for name in ("campaign", "name", "product", "start", "channel", "contacts", "arms"):
            table.add_column(name, no_wrap=True)
        for r in rows:
            table.add_row(r["campaign_id"], r["name"], r["product_id"], str(r["start_date"]),
                          str(r["channels"]), f"{r['contacts']:,}", str(r["arms"]))  # fmt: skip
        console().print(table)


@model.command("build")
def build(
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="Past campaign for response / uplift (default: largest)."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Full training settings (slower) instead of quick.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Train every kind from the workspace, promote each, and score all customers."""
    from lodestar.cli.main import progress_bar

    with open_workspace(workspace) as ws:
        with progress_bar(locale(ws)) as progress:
            outcome = ws.build_models(campaign=campaign, quick=not full, progress=progress)
        summary = {kind: r.summary() for kind, r in outcome.trained.items()}
        if json_:
            typer.echo(json.dumps({"models": summary, "customers_scored": outcome.customers_scored,
                                   "seconds": round(outcome.seconds, 1)}, ensure_ascii=False))  # fmt: skip
            return
        print_portfolio(outcome.trained, locale(ws), outcome.skipped)
        console().print(t("model.built", locale(ws), n=outcome.customers_scored,
                          seconds=outcome.seconds), markup=False)  # fmt: skip


def print_portfolio(
    trained: dict[str, Any], loc: str = "en", skipped: dict[str, str] | None = None
) -> None:
    """The champions trained from the workspace, one line each with their held-out quality."""
    from rich.table import Table

    from lodestar.reports.models_section import KIND_NAMES, TEXT, quality_text

    text, names = TEXT.get(loc, TEXT["en"]), KIND_NAMES.get(loc, KIND_NAMES["en"])
    table = Table(title=text["title"], title_justify="left")
    for key in ("kind", "model", "rows", "quality"):
        table.add_column(text[key], no_wrap=key != "quality")
    for kind, result in trained.items():
        table.add_row(names.get(kind, kind), result.model_id,
                      f"{result.rows_train + result.rows_test:,}", quality_text(result.metrics))  # fmt: skip
    for kind, why in (skipped or {}).items():
        table.add_row(names.get(kind, kind), "—", "", why)
    console().print(table)
