"""A whole campaign plan on a workspace, stage by stage: where the time of `lodestar plan` goes.

    PYTHONPATH=src python -m bench.plan_speed --workspace /tmp/ws100k [--campaign FILE]

The workspace needs its models and the example offers (``lodestar demo`` leaves both). Stages:
the customers and eligibility facts, the audiences, the models' effects (scoring every customer
with every model the offers name), the contact policy for every customer x channel, the credit
terms, the send times, then the plan itself (candidates, arms, arbitration), the summary (with
the response-only and untargeted comparisons, two more optimiser runs) and writing the files.
Peak memory is the process high-water mark. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
from pathlib import Path

STAGES = ("customers", "audiences", "effects", "contact policy", "credit terms", "send times")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--campaign", type=Path, default=None)
    args = parser.parse_args()

    from lodestar.decisioning.plan import build_plan
    from lodestar.decisioning.plan_spec import PlanSpec
    from lodestar.decisioning.plan_store import save_plan
    from lodestar.decisioning.plan_summary import summarise
    from lodestar.decisioning.planning import plan_inputs
    from lodestar.workspace import Workspace

    ws = Workspace.open(args.workspace)
    spec = PlanSpec.from_yaml(args.campaign or ws.root / "campaign.yaml")
    catalogue = ws.offer_catalogue()
    policy = ws.contact_policy()
    marks: list[float] = [time.perf_counter()]

    def progress(_stage: str, done: int, _total: int | None) -> None:
        if done >= 1:
            marks.append(time.perf_counter())

    started = marks[0]
    inputs, send_on = plan_inputs(ws, spec, catalogue, policy, progress=progress)
    marks.append(time.perf_counter())
    t0 = time.perf_counter()
    plan = build_plan(spec, catalogue, inputs, send_on)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = summarise(plan, catalogue)
    t_summary = time.perf_counter() - t0
    t0 = time.perf_counter()
    saved = save_plan(ws.plans_root, plan, summary | {"created_at": "bench"})
    t_save = time.perf_counter() - t0
    total = time.perf_counter() - started
    # marks: start, then one as each stage begins (STAGES in order), then the end
    durations = [b - a for a, b in itertools.pairwise(marks[1:])]
    customers = summary["customers"]
    print(f"### Whole plan: {customers:,} customers, {len(plan.meta['offers'])} offers, "
          f"{len(plan.meta['channels'])} channels ({saved.plan_id})\n")  # fmt: skip
    print(f"{len(plan.candidates):,} candidate rows ({int(plan.candidates['profitable'].sum()):,}"
          f" profitable); {summary['contacts']:,} contacts; optimiser gap "
          f"{summary['optimiser']['gap']:.4%}\n")  # fmt: skip
    print("| stage | seconds |\n|---|---:|")
    print(f"| data date | {marks[1] - started:.1f} |")
    for name, seconds in zip(STAGES, durations, strict=False):
        print(f"| {name} | {seconds:.1f} |")
    print(f"| plan (candidates, arms, arbitration) | {t_plan:.1f} |")
    print(f"| summary (incl. 2 comparison optimisations) | {t_summary:.1f} |")
    print(f"| writing the plan files | {t_save:.1f} |")
    print(f"| **total** | **{total:.1f}** |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak RSS {peak:,.0f} MB.")
    ws.close()


if __name__ == "__main__":
    main()
