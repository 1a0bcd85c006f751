"""`lodestar experiment create | list | show | stop`: the experiment registry, with layers of
mutually exclusive experiments (docs/experiments.md, Experiment registry)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lodestar.cli.experiment_commands import experiment_app
from lodestar.cli.main import WorkspaceOption, console, locale, open_workspace
from lodestar.i18n import t


def _numbers(text: str, what: str) -> list[float]:
    from lodestar.errors import ConfigError

    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{what} '{text}' is not a comma-separated list of numbers",
                          hint=f"e.g. --{what} 1,1") from None  # fmt: skip


@experiment_app.command("create")
def create(
    key: Annotated[str, typer.Argument(help="The experiment's key (its hash seed).")],
    arms: Annotated[str, typer.Option(help="Arm names, comma-separated, e.g. A,B.")],
    weights: Annotated[str | None, typer.Option(help="Their weights, e.g. 1,1 (default: "
                                                     "equal).")] = None,
    layer: Annotated[str, typer.Option(help="Its layer: a customer is in at most one "
                                            "experiment per layer.")] = "default",
    traffic: Annotated[float, typer.Option(help="Share of the layer's customers it takes "
                                                "(a layer's shares add up to 1 at most).")] = 1.0,
    holdout: Annotated[float, typer.Option(help="Share of its customers held out as "
                                                "control.")] = 0.0,
    name: Annotated[str | None, typer.Option(help="A name for people.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Register an experiment in a layer, with the first free slice of the layer's traffic."""
    from lodestar.errors import ConfigError
    from lodestar.experiments.assignment import Arm
    from lodestar.security.actors import local_actor

    with open_workspace(workspace) as ws:  # inside: a bad option is reported like any error
        loc = locale(ws)
        names = [a.strip() for a in arms.split(",") if a.strip()]
        shares = _numbers(weights, "weights") if weights else [1.0] * len(names)
        if len(shares) != len(names):
            raise ConfigError(f"{len(names)} arms but {len(shares)} weights",
                              hint="give one weight per arm, in the same order")  # fmt: skip
        made = ws.experiment_registry.create(
            key, arms=[Arm(n, w) for n, w in zip(names, shares, strict=True)], layer=layer,
            traffic=traffic, holdout=holdout, name=name, actor=local_actor())  # fmt: skip
        console().print(t("exp.reg.created", loc, experiment=made.key, layer=made.layer,
                          traffic=made.traffic, start=made.start, end=made.end),
                        markup=False)  # fmt: skip


@experiment_app.command("list")
def list_(
    layer: Annotated[str | None, typer.Option(help="Only this layer.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Registered experiments by layer, with their traffic and status."""
    from rich.table import Table

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        table = Table()
        for column in ("layer", "key", "traffic", "arms", "holdout", "status"):
            table.add_column(t(f"exp.reg.col.{column}", loc))
        for e in ws.experiment_registry.list_experiments(layer):
            table.add_row(e.layer, e.key, f"{e.traffic:.2%}",
                          ", ".join(f"{a.name}:{a.weight:g}" for a in e.arms),
                          f"{e.holdout:.0%}", e.status)  # fmt: skip
        console().print(table)


@experiment_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The experiment.")],
    workspace: WorkspaceOption = None,
) -> None:
    """One experiment as JSON."""
    with open_workspace(workspace) as ws:
        typer.echo(json.dumps(ws.experiment_registry.get(key).as_dict(), ensure_ascii=False,
                              indent=2))  # fmt: skip


@experiment_app.command("stop")
def stop(
    key: Annotated[str, typer.Argument(help="The experiment.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Stop an experiment: it assigns nobody any more and its slice of the layer is free."""
    from lodestar.security.actors import local_actor

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        done = ws.experiment_registry.stop(key, actor=local_actor())
        console().print(t("exp.reg.stopped", loc, experiment=done.key, layer=done.layer),
                        markup=False)  # fmt: skip
