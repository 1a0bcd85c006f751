"""`lodestar policy ...`: the contact policy (show, save a new version, versions, check one
customer) and the do-not-contact list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace
from lodestar.i18n import t

policy_app = typer.Typer(help="Contact policy and do-not-contact list (docs/decisioning.md).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def show(
    name: Annotated[str | None, typer.Option(help="Policy name (default: the one in force).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Print the policy in force as JSON (version included)."""
    with open_workspace(workspace) as ws:
        policy = ws.contact_policy(name)
        typer.echo(policy.model_dump_json(indent=2, by_alias=True))


@policy_app.command("save")
def save(
    file: Annotated[Path, typer.Argument(help="Policy YAML (start from `lodestar policy show`).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Store the file as the next version of the policy it names (checked first, audited)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        saved = ws.save_contact_policy(file)
        console().print(t("policy.cli.saved", loc, name=saved.name, version=saved.version),
                        markup=False)  # fmt: skip


@policy_app.command("versions")
def versions(
    name: Annotated[str, typer.Argument(help="Policy name.")] = "retail_default",
    workspace: WorkspaceOption = None,
) -> None:
    """Every stored version of a policy: who saved it and when."""
    from lodestar.decisioning.policy_store import policy_versions

    with open_workspace(workspace) as ws:
        for row in policy_versions(ws.ops, name):
            console().print(f"v{row['version']}  {row['created_at']}  {row['created_by']}",
                            markup=False)  # fmt: skip


@policy_app.command("check")
def check_customer(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    channel: Annotated[str, typer.Argument(help="Channel, e.g. sms.")],
    purpose: Annotated[str, typer.Option(help="marketing or service.")] = "marketing",
    workspace: WorkspaceOption = None,
) -> None:
    """May this customer be contacted on this channel now, and if not, why."""
    from lodestar.decisioning.contact_policy import check
    from lodestar.decisioning.planning import policy_frames

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        now = datetime.now(UTC)
        people = ws.query("SELECT customer_id, time_zone, phone, email, app_user_id, wecom_id "
                          "FROM customers WHERE customer_id = ?", [customer_id]).to_pylist()  # fmt: skip
        if not people:
            console(stderr=True).print(t("policy.cli.unknown", loc, customer=customer_id),
                                       markup=False)  # fmt: skip
            raise typer.Exit(1)
        frames = policy_frames(ws, now)
        rows = {k: f[f["customer_id"] == customer_id] for k, f in frames.items()}
        verdict = check(ws.contact_policy(), people[0], channel, purpose, now, **rows)
        console().print(verdict.explain(loc), markup=False)


dnc_app = typer.Typer(help="The do-not-contact list.", no_args_is_help=True)
policy_app.add_typer(dnc_app, name="dnc")


@dnc_app.command("add")
def dnc_add(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    channel: Annotated[str, typer.Option(help="A channel, or all.")] = "all",
    reason: Annotated[str, typer.Option(help="customer_request, complaint, regulator_list, "
                                             "deceased, fraud, legal_hold, other")] = "customer_request",
    note: Annotated[str | None, typer.Option(help="Free text (no personal data).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Put a customer on the do-not-contact list (audited)."""
    from lodestar.decisioning.policy_store import add_do_not_contact
    from lodestar.security.actors import local_actor as _actor

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        entry = add_do_not_contact(ws.ops, customer_id, channel, reason, actor=_actor(), note=note)
        console().print(t("policy.cli.dnc_added", loc, customer=customer_id, channel=channel,
                          entry=entry), markup=False)  # fmt: skip


@dnc_app.command("list")
def dnc_list(workspace: WorkspaceOption = None) -> None:
    """The do-not-contact list as JSON lines."""
    with open_workspace(workspace) as ws:
        for row in ws.do_not_contact_frame().to_dict("records"):
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
