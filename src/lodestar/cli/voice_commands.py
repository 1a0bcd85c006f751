"""`lodestar voice ...`: check a call script, verification calls (one conversation or a
regression suite of them) and a simulated call task with its report (docs/voice-robot.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.main import app, console, handled, locale
from lodestar.i18n import t

voice_app = typer.Typer(help="Voice robot (智能外呼): call scripts, verification calls, call "
                        "tasks (docs/voice-robot.md).", no_args_is_help=True)  # fmt: skip
app.add_typer(voice_app, name="voice")

ScriptArg = Annotated[Path, typer.Argument(help="Call script YAML (see docs/voice-robot.md).")]
SpeakOption = Annotated[str | None, typer.Option(
    "--speak", help="Locale the robot speaks: zh-CN (default) or en.")]  # fmt: skip


@voice_app.command("check")
def check(script: ScriptArg) -> None:
    """Validate a call script: shape, targets, reachability, endings, fallbacks, locales."""
    from lodestar.channels.voice_robot.script import load_script

    with handled():
        s = load_script(script)
        console().print(t("voice.ok", locale(), path=script, script=s.script, nodes=len(s.nodes),
                          intents=len(s.intents)), markup=False)  # fmt: skip


@voice_app.command("simulate")
def simulate(
    script: ScriptArg,
    answers: Annotated[
        list[str] | None,
        typer.Option(
            "--answers",
            "-a",
            help="The caller's answers in order (repeat the option, or give "
            "several after it); the caller hangs up when they run out.",
        ),
    ] = None,
    extra: Annotated[
        list[str] | None, typer.Argument(help="More answers (after --answers).", show_default=False)
    ] = None,
    speak: SpeakOption = None,
) -> None:
    """One verification call: the nodes visited, the intents recognised, how it ended."""
    from lodestar.channels.voice_robot.script import load_script
    from lodestar.channels.voice_robot.simulator import simulate as run

    with handled():
        s = load_script(script)
        loc = locale()
        path = run(s, [*(answers or []), *(extra or [])], locale=speak or "zh-CN")
        out = console()
        out.print(t("voice.path", loc, nodes=" -> ".join(path.nodes)), markup=False)
        for turn in path.turns:
            out.print(t("voice.turn", loc, node=turn.node,
                        intent=turn.intent or t("voice.not_understood", loc),
                        confidence=turn.confidence, method=turn.method), markup=False)  # fmt: skip
        out.print(t("voice.end", loc, end=path.end.value, node=path.last_node,
                    goal=path.goal or "-", turns=len(path.turns), seconds=path.seconds),
                  markup=False)  # fmt: skip


@voice_app.command("test")
def test(
    script: ScriptArg,
    cases: Annotated[
        Path,
        typer.Argument(
            help="CSV: case, answers (separated by |), expect_node / expect_end / expect_goal."
        ),
    ],
    speak: SpeakOption = None,
) -> None:
    """Run a regression suite of conversations; exits 1 when any fails."""
    from lodestar.channels.voice_robot.script import load_script
    from lodestar.channels.voice_robot.simulator import run_cases

    with handled():
        s = load_script(script)
        results = run_cases(s, cases, locale=speak or "zh-CN")
    loc = locale()
    out = console()
    for r in results:
        if r.passed:
            out.print(t("voice.case_pass", loc, case=r.case), markup=False)
        else:
            out.print(t("voice.case_fail", loc, case=r.case, line=r.line,
                        problems="; ".join(r.problems)), markup=False)  # fmt: skip
    passed = sum(r.passed for r in results)
    out.print(t("voice.cases", loc, passed=passed, total=len(results)), markup=False)
    if passed < len(results):
        raise typer.Exit(1)


@voice_app.command("run-task")
def run_task(
    script: ScriptArg,
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1, help="Made-up customers to call.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated callers.")] = 0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 10,
    attempts: Annotated[int, typer.Option("--attempts", min=1, help="Tries per customer.")] = 3,
    start: Annotated[
        datetime | None,
        typer.Option("--start", help="Task start (UTC unless it has an offset; default now)."),
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")] = None,
) -> None:
    """Run a call task against the simulated backend (seeded personas) and report it."""
    from lodestar.channels.voice_robot.call_statistics import node_statistics, task_statistics
    from lodestar.channels.voice_robot.call_task import (
        CallTask,
        SimulatedBackend,
        sample_callees,
    )
    from lodestar.channels.voice_robot.call_task import run_task as run
    from lodestar.channels.voice_robot.script import load_script

    with handled():
        s = load_script(script)
        at = start or datetime.now(UTC)
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        task_id = f"{s.script}-{seed}"
        task = CallTask(task_id, s, sample_callees(customers, seed=seed), at,
                        concurrency=concurrency, max_attempts=attempts)  # fmt: skip
        results = run(task, SimulatedBackend(seed=seed))
        stats = task_statistics(results)
        loc = locale()
        console().print(t("voice.task", loc, customers=stats.customers, attempts=stats.attempts,
                          connect=stats.connect_rate, success=stats.success_rate,
                          transfer=stats.transfer_rate, seconds=stats.average_seconds),
                        markup=False)  # fmt: skip
        if report is not None:
            from lodestar.reports.voice_report import write_voice_report

            write_voice_report(s, task_id, stats, node_statistics(s, results), report, locale=loc)
            console().print(t("voice.report", loc, path=report), markup=False)
