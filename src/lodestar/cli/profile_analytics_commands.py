"""`lodestar profile tiers | lifecycle ...`: value tiers, concentration and lifecycle stages.

Registered on the ``profile`` group of :mod:`lodestar.cli.profile_commands`. Thin: parse, call
the Workspace, print.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli.main import WorkspaceOption, console, locale, open_workspace
from lodestar.cli.profile_commands import profile
from lodestar.errors import ConfigError
from lodestar.i18n import t

if TYPE_CHECKING:
    from rich.table import Table

    from lodestar.profile.life_events import LifeEventResult
    from lodestar.profile.lifecycle import LifecycleResult
    from lodestar.profile.personas import PersonaResult
    from lodestar.profile.value_tiers import ValueTierResult


# -- value tiers and lifecycle -------------------------------------------------------------------
def _day(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text}: not a date", hint="write it as YYYY-MM-DD") from None


def _thresholds(text: str | None, lang: str) -> tuple[float, float, float] | None:
    """Three numbers; ``万`` multiplies by 10,000 (``600万`` = 6,000,000)."""
    if not text:
        return None
    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    try:
        values = [float(p[:-1]) * 10_000 if p.endswith("万") else float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3:
        raise ConfigError(t("tiers.thresholds.bad", lang, text=text),
                          hint=t("tiers.thresholds.hint", lang))  # fmt: skip
    return values[0], values[1], values[2]


def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else None


def _table(title: str, heads: list[str], rows: list[list[str]]) -> Table:
    """A table whose cells never wrap (headers may): figures stay readable in 80 columns."""
    from rich.cells import cell_len
    from rich.table import Column, Table

    widths = [max((cell_len(r[i]) for r in rows), default=0) for i in range(len(heads))]
    columns = [Column(h, min_width=w, justify="left" if i == 0 else "right", overflow="fold")
               for i, (h, w) in enumerate(zip(heads, widths, strict=True))]  # fmt: skip
    table = Table(*columns, title=title)
    for r in rows:
        table.add_row(*r)
    return table


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


@profile.command("tiers")
def tiers(
    measure: Annotated[str, typer.Option(help="aum, revenue or combined.")] = "aum",
    tier_by: Annotated[str, typer.Option(help="amount or percentile.")] = "amount",
    thresholds: Annotated[
        str | None,
        typer.Option(help="Lower bounds of private banking, affluent, mass, e.g. 600万,50万,5万."),
    ] = None,
    window_months: Annotated[int, typer.Option(help="Revenue window in months.")] = 12,
    revenue_types: Annotated[
        str | None, typer.Option(help="Transaction types counted as revenue (default fee).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Value date, YYYY-MM-DD.")] = None,
    currency: Annotated[str | None, typer.Option(help="Only this currency.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Customer value tiers and the 80/20 figures; saved as table profile_value_tiers."""
    from lodestar.profile.value_tiers import ValueConfig

    with open_workspace(workspace) as ws:
        lang = locale(ws)
        kwargs: dict[str, object] = {}
        if (types := _names(revenue_types)) is not None:
            kwargs["revenue_types"] = types
        config = ValueConfig(
            measure=measure,  # type: ignore[arg-type]  # ValueConfig checks the value
            tier_by=tier_by,  # type: ignore[arg-type]
            thresholds=_thresholds(thresholds, lang),
            window_months=window_months,
            as_of=_day(as_of, "--as-of"),
            currency=currency,
            **kwargs,  # type: ignore[arg-type]
        )
        result = ws.value_tiers(config)
        print_tiers(result, lang)


def print_tiers(result: ValueTierResult, lang: str) -> None:
    zh = lang == "zh-CN"
    measure = t(f"tiers.measure.{result.config.measure}", lang)
    heads = ("tiers.tier", "tiers.lower_bound", "tiers.customers", "tiers.customer_share",
             "tiers.value_share", "tiers.cumulative", "tiers.mean_value")  # fmt: skip
    by_percentile = result.config.tier_by == "percentile"
    rows = []
    for row in result.summary:
        bound = row["lower_bound"]
        shown = "" if bound is None else f"{bound:.0%}" if by_percentile else _money(bound)
        rows.append([
            str(row["value_tier_name"] if zh else row["value_tier_en"]), shown,
            f"{row['customers']:,}", f"{row['customer_share']:.1%}", f"{row['value_share']:.1%}",
            f"{row['cumulative_value_share']:.1%}", _money(row["mean_value"]),
        ])  # fmt: skip
    title = t("tiers.title", lang, measure=measure, as_of=result.as_of)
    table = _table(title, [t(h, lang) for h in heads], rows)
    out = console()
    out.print(table)
    p = result.pareto
    s = p.top_shares
    out.print(t("tiers.pareto", lang, top1=s[0.01], top5=s[0.05], top10=s[0.1], top20=s[0.2],
                for80=p.customers_for_80, gini=p.gini))  # fmt: skip
    out.print(t("tiers.saved", lang, customers=p.customers))


@profile.command("lifecycle")
def lifecycle(
    months: Annotated[int, typer.Option(help="Month ends evaluated.")] = 12,
    as_of: Annotated[str | None, typer.Option(help="Data date, YYYY-MM-DD.")] = None,
    new_days: Annotated[int, typer.Option(help="New: joined within this many days.")] = 90,
    dormant_days: Annotated[int, typer.Option(help="Declining: inactive this many days.")] = 60,
    churn_days: Annotated[
        int, typer.Option(help="Churned: inactive this long with no funded account.")
    ] = 180,
    latest: Annotated[
        bool, typer.Option("--latest", help="Transitions into the latest month only.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Lifecycle stage per customer and month, and the transition matrix; saved as tables
    profile_lifecycle and lifecycle_history."""
    from lodestar.profile.lifecycle import LifecycleConfig

    with open_workspace(workspace) as ws:
        lang = locale(ws)
        config = LifecycleConfig(
            months=months,
            as_of=_day(as_of, "--as-of"),
            new_days=new_days,
            dormant_days=dormant_days,
            churn_days=churn_days,
        )
        result = ws.lifecycle(config)
        print_lifecycle(result, lang, latest=latest)


def stage_names(lang: str) -> list[str]:
    from lodestar.profile.lifecycle import STAGES

    return [zh if lang == "zh-CN" else en for _, zh, en in STAGES]


def print_lifecycle(result: LifecycleResult, lang: str, *, latest: bool = False) -> None:
    from lodestar.profile.lifecycle import STAGE_CODES

    names = stage_names(lang)
    out = console()
    rows = [[row["month"].strftime("%Y-%m"), *(f"{row[c]:,}" for c in STAGE_CODES)]
            for row in result.count_rows()]  # fmt: skip
    out.print(_table(t("lifecycle.title", lang, as_of=result.as_of),
                     [t("lifecycle.month", lang), *names], rows))  # fmt: skip
    period = (
        t("lifecycle.latest", lang, month=result.months[-1].strftime("%Y-%m"))
        if latest
        else t("lifecycle.pooled", lang, n=len(result.months) - 1)
    )
    rows = []
    for i, row in enumerate(result.transition_rows(latest=latest)):
        cells = ["" if row[f"p_{c}"] is None else f"{row[f'p_{c}']:.1%}" for c in STAGE_CODES]
        rows.append([names[i], f"{row['customers']:,}", *cells])
    out.print(_table(t("lifecycle.transitions", lang, period=period),
                     [t("lifecycle.from", lang), t("lifecycle.customers", lang), *names], rows))  # fmt: skip
    out.print(t("lifecycle.saved", lang, rows=result.history.num_rows))


# -- end of value tiers and lifecycle ------------------------------------------------------------


# -- personas and life events --------------------------------------------------------------------
@profile.command("personas")
def personas(
    method: Annotated[str, typer.Option(help="kmeans or gmm (Gaussian mixture).")] = "kmeans",
    k_min: Annotated[int, typer.Option(help="Fewest personas tried.")] = 3,
    k_max: Annotated[int, typer.Option(help="Most personas tried.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (samples and cluster starts).")] = 42,
    fit_sample: Annotated[
        int, typer.Option(help="Fit on at most this many customers, then assign all.")
    ] = 50_000,
    as_of: Annotated[str | None, typer.Option(help="Feature date, YYYY-MM-DD.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Cluster customers into named personas; saved as table profile_personas and a model."""
    from lodestar.profile.personas import PersonaConfig

    with open_workspace(workspace) as ws:
        lang = locale(ws)
        config = PersonaConfig(
            method=method,  # type: ignore[arg-type]  # PersonaConfig checks the value
            k_min=k_min,
            k_max=k_max,
            seed=seed,
            fit_sample=fit_sample,
            as_of=_day(as_of, "--as-of"),
        )
        result = ws.personas(config)
        print_personas(result, lang, ws.root / "profile" / "personas")


def print_personas(result: PersonaResult, lang: str, folder: Path) -> None:
    from lodestar.profile.features import FEATURES

    zh = lang == "zh-CN"
    sep = "、" if zh else ", "
    out = console()
    rows = [[p.name if zh else p.name_en, f"{p.size:,}", f"{p.share:.1%}",
             sep.join(tr.label if zh else tr.label_en for tr in p.traits)]
            for p in result.profiles]  # fmt: skip
    heads = [t(f"personas.{c}", lang) for c in ("persona", "customers", "share", "traits")]
    title = t("personas.title", lang, k=result.k, method=result.model.meta["params"]["method"],
              as_of=result.as_of)  # fmt: skip
    out.print(_table(title, heads, rows))
    scores = [[f"{k}{' *' if k == result.k else ''}", f"{v:,.4f}" if abs(v) < 10 else f"{v:,.0f}"]
              for k, v in sorted(result.scores.items())]  # fmt: skip
    metric = t(f"personas.metric.{result.metric}", lang)
    out.print(_table(t("personas.scores", lang, metric=metric), ["k", t("personas.score", lang)],
                     scores))  # fmt: skip
    if result.dropped:
        items = sep.join(
            f"{FEATURES[d.feature].label if zh else d.feature} "
            f"({t(f'personas.reason.{d.reason}', lang)})"
            for d in result.dropped
        )
        out.print(t("personas.dropped", lang, items=items), markup=False)
    out.print(t("personas.saved", lang, customers=result.assignments.num_rows, path=folder,
                seconds=result.seconds), markup=False)  # fmt: skip


@profile.command("life-events")
def life_events(
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only these event types (repeat, or comma-separated)."),
    ] = None,
    days: Annotated[int, typer.Option(help="Upcoming events: due within this many days.")] = 30,
    lookback: Annotated[int, typer.Option(help="Past events: within this many days.")] = 90,
    as_of: Annotated[str | None, typer.Option(help="Data date, YYYY-MM-DD.")] = None,
    examples: Annotated[int, typer.Option(help="Examples shown per event type.")] = 3,
    workspace: WorkspaceOption = None,
) -> None:
    """Life events (salary, large flows, maturities, due dates, birthdays); saved as tables."""
    from lodestar.profile.life_events import EventType, LifeEventConfig

    with open_workspace(workspace) as ws:
        lang = locale(ws)
        chosen = [p.strip() for v in (event_type or []) for p in v.split(",") if p.strip()]
        config = LifeEventConfig(
            types=tuple(chosen) if chosen else tuple(EventType),
            horizon_days=days,
            lookback_days=lookback,
            as_of=_day(as_of, "--as-of"),
        )
        result = ws.life_events(config)
        print_life_events(result, lang, days=days, lookback=lookback, examples=examples)


def print_life_events(
    result: LifeEventResult, lang: str, *, days: int, lookback: int, examples: int
) -> None:
    import pyarrow.compute as pc

    from lodestar.profile.life_events import EVENT_NAMES

    zh = lang == "zh-CN"
    out = console()
    table = result.table
    rows = []
    for code, n in result.counts.items():
        mask = pc.equal(table["event_type"], code)
        customers = len(pc.unique(table["customer_id"].filter(mask))) if n else 0
        note = result.unsupported.get(code)
        rows.append([EVENT_NAMES[code] if zh else code.replace("_", " "), code, f"{n:,}",
                     f"{customers:,}",
                     t("life_events.unsupported", lang, reason=t(f"life_events.why.{code}", lang))
                     if note else ""])  # fmt: skip
    heads = [t(f"life_events.{c}", lang) for c in ("type", "code", "count", "customers")]
    title = t("life_events.title", lang, as_of=result.as_of, days=days, lookback=lookback)
    out.print(_table(title, [*heads, ""], rows))
    if examples > 0 and table.num_rows:
        # Customer ids, dates and amounts only: no names, phones or other personal data.
        shown: list[list[str]] = []
        for code in result.counts:
            some = table.filter(pc.equal(table["event_type"], code)).slice(0, examples)
            shown.extend([EVENT_NAMES[code] if zh else code, r["customer_id"],
                          r["ts"].date().isoformat(), r["details"]]
                         for r in some.select(["customer_id", "ts", "details"]).to_pylist())  # fmt: skip
        heads = [t(f"life_events.{c}", lang) for c in ("type", "customer", "date", "details")]
        out.print(_table(t("life_events.examples", lang), heads, shown))
    out.print(t("life_events.saved", lang, events=table.num_rows), markup=False)


# -- end of personas and life events -------------------------------------------------------------
