"""The benchmark harness: named scenarios, each with Lodestar and its peers on the same data.

Every run of every contender happens in a fresh child process, so peak memory (the child's
``ru_maxrss``) and wall time belong to that contender alone. Each contender prints a small JSON
answer (row counts, checksums); the harness checks the answers agree before it prints any
figure, then reports the median of the runs and the ratio to Lodestar.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Contender:
    name: str
    #: argv after ``python -m bench.tasks``; may contain ``{data}`` and ``{scratch}``.
    task: list[str]
    #: Which answer fields must equal Lodestar's (None: all of them).
    compare: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    #: Builds the shared input once per scale; returns the data folder.
    prepare: Callable[[Path, int], Path]
    contenders: list[Contender]
    #: The unit the throughput is counted in, and which answer field holds the count.
    unit: str = "rows"
    count_field: str = "rows"


@dataclass
class Measurement:
    contender: str
    seconds: list[float] = field(default_factory=list)
    #: Time of the operation itself, measured inside the child (without start-up and imports),
    #: where the task reports it.
    op_seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_mb(self) -> float:
        return statistics.median(self.peak_mb)


def run_child(argv: list[str]) -> tuple[float, float, dict[str, Any]]:
    """Run one contender once: wall seconds, peak RSS in MB, and its JSON answer."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.tasks", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"bench task {argv} failed with exit {proc.returncode}:\n{err[-3000:]}")
    answer = json.loads(out.strip().splitlines()[-1])
    peak_kb = answer.pop("_peak_kb")
    return seconds, peak_kb / 1024, answer


def run_scenario(scenario: Scenario, scale: int, repeat: int, work: Path) -> list[Measurement]:
    data = scenario.prepare(work / "data" / f"{scenario.name}-{scale}", scale)
    results: list[Measurement] = []
    for contender in scenario.contenders:
        m = Measurement(contender.name)
        for i in range(repeat):
            scratch = work / "scratch" / f"{scenario.name}-{contender.name}-{i}"
            argv = [a.format(data=data, scratch=scratch) for a in contender.task]
            seconds, peak, answer = run_child(argv)
            if "_op_seconds" in answer:
                m.op_seconds.append(float(answer.pop("_op_seconds")))
            m.seconds.append(seconds)
            m.peak_mb.append(peak)
            m.answer = answer
        results.append(m)
    _check_agreement(scenario, results)
    return results


def _check_agreement(scenario: Scenario, results: list[Measurement]) -> None:
    reference = results[0]
    for m, contender in zip(results[1:], scenario.contenders[1:], strict=True):
        fields = contender.compare if contender.compare is not None else tuple(reference.answer)
        for key in fields:
            a, b = reference.answer.get(key), m.answer.get(key)
            same = (
                abs(a - b) <= 1e-6 * max(1.0, abs(a))
                if isinstance(a, float) and isinstance(b, float)
                else a == b
            )
            if not same:
                raise AssertionError(
                    f"{scenario.name}: {m.contender} answered {key}={b!r}, "
                    f"{reference.contender} answered {a!r}"
                )


def render(scenario: Scenario, scale: int, results: list[Measurement]) -> str:
    ref = results[0]
    timed = all(m.op_seconds for m in results)
    op_head = " operation s | operation vs lodestar |" if timed else ""
    lines = [
        f"## {scenario.name} at {scale:,} customers — {scenario.description}",
        "",
        f"| contender | median s (process) | {scenario.unit}/s | peak MB | time vs lodestar "
        f"| memory vs lodestar |{op_head}",
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if timed else ""),
    ]
    for m in results:
        count = float(m.answer.get(scenario.count_field, 0))
        op = ""
        if timed:
            op_s = statistics.median(m.op_seconds)
            op = f" {op_s:.4g} | {op_s / statistics.median(ref.op_seconds):.2f}x |"
        lines.append(
            f"| {m.contender} | {m.median_s:.2f} | {count / m.median_s:,.0f} | "
            f"{m.median_mb:,.0f} | {m.median_s / ref.median_s:.2f}x | "
            f"{m.median_mb / ref.median_mb:.2f}x |{op}"
        )
    answer = ", ".join(
        f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in ref.answer.items()
    )
    lines += ["", f"answers agree: {answer}", ""]
    return "\n".join(lines)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {sys.version.split()[0]}"
