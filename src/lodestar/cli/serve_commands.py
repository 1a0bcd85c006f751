"""`lodestar serve` (the REST API under uvicorn) and `lodestar apikey ...` (who may call it)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli.main import (
    WorkspaceOption,
    app,
    command,
    console,
    handled,
    locale,
    workspace_path,
)
from lodestar.i18n import t

if TYPE_CHECKING:
    from lodestar.workspace import Workspace

apikey = typer.Typer(help="API keys for systems and users of the REST API.", no_args_is_help=True)
app.add_typer(apikey, name="apikey")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@contextmanager
def key_workspace(path: Path | None) -> Iterator[Workspace]:
    """The workspace with its analytical store read-only: keys live in the operational store,
    and a running server (which holds the analytical store for reading) must not block them."""
    from lodestar.workspace import Workspace

    with handled(), Workspace.open(workspace_path(path), analytics_read_only=True) as ws:
        yield ws


@command
def serve(
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on. Beyond loopback, put a "
                                           "TLS-terminating proxy in front.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log each request's method, path and "
                                                  "status (never bodies).")] = True,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    path = workspace_path(workspace).resolve()
    # open (and migrate) once here, so workers start on an up-to-date store and a missing or
    # locked workspace is reported before any worker starts
    with key_workspace(path) as ws:
        loc = locale(ws)
    console(stderr=True).print(t("cli.serve.starting", loc, path=path, host=host, port=port,
                                 workers=workers), markup=False)  # fmt: skip
    os.environ["LODESTAR_WORKSPACE"] = str(path)
    uvicorn.run("lodestar.api.app:serving_app", factory=True, host=host, port=port,
                workers=workers, access_log=access_log, server_header=False,
                log_level="info")  # fmt: skip


@apikey.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what holds the key, e.g. app-backend.")],
    role: Annotated[str, typer.Option(help="viewer, analyst, marketer, approver, compliance, "
                                           "admin; or a system: decisioning (only asks for "
                                           "decisions), integration (only posts events).")],
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a key; prints it once (only its hash is kept)."""
    with key_workspace(workspace) as ws:
        key, secret = ws.create_api_key(name, role)
        if json_:
            typer.echo(json.dumps({**key.as_dict(), "key": secret}, ensure_ascii=False))
            return
        loc = locale(ws)
        console(stderr=True).print(t("cli.apikey.created", loc, id=key.id, name=key.name,
                                     role=key.role.value), markup=False)  # fmt: skip
        console(stderr=True).print(t("cli.apikey.secret", loc), markup=False)
        typer.echo(secret)  # alone on stdout, so scripts can capture it


@apikey.command("list")
def list_(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Keys with their prefix, role and state (the secrets are not kept)."""
    with key_workspace(workspace) as ws:
        keys = ws.api_keys()
        if json_:
            typer.echo(json.dumps([k.as_dict() for k in keys], ensure_ascii=False))
            return
        loc = locale(ws)
        if not keys:
            console().print(t("cli.apikey.none", loc), markup=False)
            return
        from rich.table import Table

        table = Table("id", "name", "prefix", "role", "created", "state")
        for k in keys:
            state = (t("cli.apikey.active", loc) if k.active
                     else f"{t('cli.apikey.revoked_state', loc)} {k.revoked_at:%Y-%m-%d %H:%M}")  # fmt: skip
            table.add_row(str(k.id), k.name, k.as_dict()["prefix"], k.role.value,
                          f"{k.created_at:%Y-%m-%d %H:%M} {k.created_by}", state)  # fmt: skip
        console().print(table)


@apikey.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id (apikey list).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key; requests with it are refused from then on."""
    with key_workspace(workspace) as ws:
        key = ws.revoke_api_key(key_id)
        console().print(t("cli.apikey.revoked", locale(ws), id=key.id, name=key.name,
                          at=f"{key.revoked_at:%Y-%m-%d %H:%M:%S}"), markup=False)  # fmt: skip
