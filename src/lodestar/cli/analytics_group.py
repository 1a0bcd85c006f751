"""`lodestar analytics ...`: the command group the operations-analytics commands join (each
analysis registers its commands from its own module)."""

from __future__ import annotations

import typer

from lodestar.cli.main import app

analytics_app = typer.Typer(help="Operations analytics: funnels, retention, lifecycle, paths, "
                                 "channel KPIs, CX and journey maps.",
                            no_args_is_help=True)  # fmt: skip
app.add_typer(analytics_app, name="analytics")
