"""`lodestar profile ...`: the 360° view (RFM today; tags, tiers, personas as they land)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace


class _ProfileGroup(TyperGroup):
    """``lodestar profile CUSTOMER_ID`` shows one customer; other words are sub-commands."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().resolve_command(ctx, args)


profile = typer.Typer(
    cls=_ProfileGroup,
    help="Customer profiles: `lodestar profile CUSTOMER_ID` (the 360° view), RFM, tiers...",
    no_args_is_help=True,
)
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


@profile.command("show")
def show(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    unmask: Annotated[
        bool, typer.Option(help="Show PII unmasked (recorded in the audit trail).")
    ] = False,
    timeline: Annotated[int, typer.Option(help="Recent transactions / events shown.")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The 360° view of one customer: attributes, scores, tags, holdings, timeline, consents."""
    from lodestar.cli.customer_view_render import print_customer_view

    with open_workspace(workspace) as ws:
        view = ws.customer_view(customer_id, unmask=unmask, timeline=timeline)
        if as_json:
            import json

            console().print_json(json.dumps(view.to_dict(), default=str, ensure_ascii=False))
        else:
            print_customer_view(view, ws.tag_definitions_or_empty(), locale(ws))


@profile.command("build")
def build(workspace: WorkspaceOption = None) -> None:
    """Run every profile stage: RFM, value tiers, lifecycle, tags, life events, personas."""
    from lodestar.cli.main import progress_bar

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            outcome = ws.build_profile(progress=progress)
        zh = loc == "zh-CN"
        for stage, seconds in outcome.seconds.items():
            console().print(f"{stage}: {seconds:.1f} {'秒' if zh else 's'}")
