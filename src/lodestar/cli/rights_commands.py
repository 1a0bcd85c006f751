"""`lodestar rights ...`: the rights catalogue, issuing and redeeming rights, expiry, points
balances and member levels (docs/rights.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.i18n import t

rights_app = typer.Typer(help="Rights, coupons and loyalty points (docs/rights.md).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(rights_app, name="rights")

KeyOption = Annotated[str | None, typer.Option(
    "--key", help="Idempotency key: the same key again returns the first result.")]  # fmt: skip
AsOfOption = Annotated[datetime | None, typer.Option(
    "--as-of", help="Point in time (UTC unless it has an offset; default now).")]  # fmt: skip


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@rights_app.command("init")
def init(workspace: WorkspaceOption = None) -> None:
    """Copy the example rights.yaml and points_rules.yaml into the workspace."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        for path in ws.init_rights():
            console().print(t("rights.cli.written", loc, path=path), markup=False)


@rights_app.command("list")
def list_rights(workspace: WorkspaceOption = None) -> None:
    """Every right of the catalogue with its budget left and how many were issued, tab
    separated (funds new or changed budgets first; a changed catalogue is audited)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        left = ws.sync_rights()
        ledger = ws.rights_ledger()
        header = [t(f"rights.cli.col.{c}", loc) for c in
                  ("id", "name", "kind", "cost", "budget", "left", "issued", "points")]  # fmt: skip
        typer.echo("\t".join(header))
        for r in ws.rights_catalogue().rights:
            issued = f"{ledger.issued_count(r.id)}" + (
                f"/{r.budget_count}" if r.budget_count is not None else "")  # fmt: skip
            row = [r.id, r.name.zh if loc == "zh-CN" else r.name.en, r.kind.value, f"{r.cost}",
                   f"{r.cny_budget}", f"{left[r.id]}", issued,
                   "" if r.points_price is None else str(r.points_price)]  # fmt: skip
            typer.echo("\t".join(row))


@rights_app.command("issue")
def issue(
    right_id: Annotated[str, typer.Argument(help="Right id from rights.yaml.")],
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    key: KeyOption = None,
    points: Annotated[bool, typer.Option("--points", help="Pay with the customer's points.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Issue a right to a customer within its budget (or buy it with points)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        done = (ws.spend_points(customer_id, right_id, key=key) if points
                else ws.issue_right(right_id, customer_id, key=key))  # fmt: skip
        c = done.coupon
        console().print(t("rights.cli.issued", loc, coupon=c.coupon_id, right=c.right_id,
                          customer=c.customer_id, entry=done.entry.entry_id,
                          expires=c.expires_at.isoformat()), markup=False)  # fmt: skip


@rights_app.command("redeem")
def redeem(
    coupon_id: Annotated[str, typer.Argument(help="The coupon.")],
    key: KeyOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Redeem a coupon (once; a repeat with the same key reports the first redemption)."""
    with open_workspace(workspace) as ws:
        entry = ws.redeem_coupon(coupon_id, key=key)
        console().print(t("rights.cli.redeemed", locale(ws), coupon=coupon_id,
                          entry=entry.entry_id), markup=False)  # fmt: skip


@rights_app.command("expire")
def expire(as_of: AsOfOption = None, workspace: WorkspaceOption = None) -> None:
    """Expire every coupon whose validity has ended (its cost returns to the budget)."""
    with open_workspace(workspace) as ws:
        entries = ws.expire_rights(_aware(as_of))
        console().print(t("rights.cli.expired", locale(ws), count=len(entries)), markup=False)


@rights_app.command("reverse")
def reverse(
    entry_id: Annotated[int, typer.Argument(help="The ledger entry to reverse.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger and the audit trail; no "
                                             "personal data).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Post the opposite of a ledger entry (issue, spend, redeem or earn), once."""
    with open_workspace(workspace) as ws:
        entry = ws.reverse_rights_entry(entry_id, reason)
        console().print(t("rights.cli.reversed", locale(ws), original=entry_id,
                          entry=entry.entry_id), markup=False)  # fmt: skip


@rights_app.command("earn")
def earn(as_of: AsOfOption = None, workspace: WorkspaceOption = None) -> None:
    """Credit the points the rules earn from loaded transactions and events (safe to rerun)."""
    with open_workspace(workspace) as ws:
        s = ws.earn_points(_aware(as_of))
        console().print(t("rights.cli.earned", locale(ws), posted=s.posted, points=s.points,
                          skipped=s.skipped), markup=False)  # fmt: skip


@rights_app.command("balance")
def balance(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    workspace: WorkspaceOption = None,
) -> None:
    """A customer's points, CNY held in unredeemed rights, and coupons."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        info = ws.customer_rights(customer_id)
        console().print(t("rights.cli.balance", loc, customer=customer_id,
                          points=info["points"], wallet=info["wallet"]), markup=False)  # fmt: skip
        for c in info["coupons"]:
            console().print(f"  {c.coupon_id}  {c.right_id}  {c.status}  "
                            f"{c.expires_at.isoformat()}", markup=False)  # fmt: skip


@rights_app.command("levels")
def levels(as_of: AsOfOption = None, workspace: WorkspaceOption = None) -> None:
    """Member levels from the points earned in the rules' window."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        frame = ws.member_levels(_aware(as_of))
        name = "level_zh" if loc == "zh-CN" else "level_en"
        counts: dict[Any, int] = (frame.groupby(name, sort=False).size().to_dict()
                                  if not frame.empty else {})  # fmt: skip
        console().print(t("rights.cli.levels", loc, customers=len(frame)), markup=False)
        for level, n in counts.items():
            console().print(f"  {level}: {n}", markup=False)
