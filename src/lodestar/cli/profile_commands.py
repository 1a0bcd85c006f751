"""`lodestar profile ...`: the 360° view (RFM today; tags, tiers, personas as they land)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace

profile = typer.Typer(help="Customer profiles: RFM and more.", no_args_is_help=True)
app.add_typer(profile, name="profile")


def _cuts(text: str | None) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",")) if text else ()


@profile.command("rfm")
def rfm(
    window_days: Annotated[int, typer.Option(help="Days of history counted.")] = 365,
    as_of: Annotated[str | None, typer.Option(help="End of the window, YYYY-MM-DD.")] = None,
    cut: Annotated[str, typer.Option(help="quantile or fixed cut points.")] = "quantile",
    recency_cuts: Annotated[
        str | None, typer.Option(help="Fixed: four days, e.g. 30,90,180,365")
    ] = None,
    frequency_cuts: Annotated[str | None, typer.Option(help="Fixed: four counts.")] = None,
    monetary_cuts: Annotated[str | None, typer.Option(help="Fixed: four amounts.")] = None,
    currency: Annotated[
        str | None, typer.Option(help="Only transactions in this currency.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """RFM scores and the eight classic groups; saved as table profile_rfm."""
    from rich.table import Table

    from lodestar.profile.rfm import RfmConfig

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        config = RfmConfig(
            window_days=window_days,
            as_of=date.fromisoformat(as_of) if as_of else None,
            cut=cut,  # type: ignore[arg-type]  # RfmConfig checks the value
            recency_cuts=_cuts(recency_cuts),
            frequency_cuts=_cuts(frequency_cuts),
            monetary_cuts=_cuts(monetary_cuts),
            currency=currency,
        )
        result = ws.rfm(config)
        zh = loc == "zh-CN"
        table = Table(
            "分组" if zh else "group", "客户数" if zh else "customers", "占比" if zh else "share",
            "金额占比" if zh else "value share", "R/F/M",
            title=(f"RFM（截至 {result.as_of}，{window_days} 天）" if zh
                   else f"RFM as of {result.as_of}, {window_days} days"),
        )  # fmt: skip
        for g in result.summary():
            arrows = "".join("↑" if g[k] else "↓" for k in ("r_high", "f_high", "m_high"))
            table.add_row(str(g["group"] if zh else g["group_en"]), f"{g['customers']:,}",
                          f"{g['share']:.1%}", f"{g['monetary_share']:.1%}", arrows)  # fmt: skip
        console().print(table)
