"""``python -m bench``: run benchmark scenarios and print figures and ratios.

    python -m bench --scenario generate,ingest --customers 1000000 --repeat 3

Results go to stdout as Markdown (paste into BENCHMARKS.md) and to bench/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from bench.harness import ROOT, Contender, Scenario, machine, render, run_child, run_scenario


def _prepare_nothing(path: Path, scale: int) -> Path:
    return path


def _prepare_csv(path: Path, scale: int) -> Path:
    if not (path / "transactions.csv").exists():
        run_child(["prepare-csv", str(scale), str(path)])
    return path


def _prepare_rfm(path: Path, scale: int) -> Path:
    if not (path / "transactions.parquet").exists():
        run_child(["prepare-rfm", str(scale), str(path)])
    return path


def _prepare_segment(path: Path, scale: int) -> Path:
    if not (path / "profile_bench.parquet").exists():
        run_child(["prepare-segment", str(scale), str(path)])
    return path


def scenarios(scale: int) -> dict[str, Scenario]:
    return {
        "generate": Scenario(
            name="generate",
            description="synthetic bank: generate, validate and load vs write Parquet only",
            prepare=_prepare_nothing,
            contenders=[
                Contender(
                    "lodestar generate (validated, loaded)",
                    ["lodestar-generate", str(scale), "{scratch}"],
                ),
                Contender(
                    "generator -> pyarrow Parquet (no checks)",
                    ["parquet-generate", str(scale), "{scratch}"],
                ),
            ],
        ),
        "ingest": Scenario(
            name="ingest",
            description="CSV products, customers, holdings, transactions into an analytical store",
            prepare=_prepare_csv,
            contenders=[
                Contender(
                    "lodestar ingest (typed, validated, atomic)",
                    ["lodestar-ingest", "{data}", "{scratch}"],
                ),
                Contender("duckdb read_csv (no checks)", ["duckdb-ingest", "{data}", "{scratch}"]),
                Contender(
                    "polars scan_csv -> parquet (no checks)",
                    ["polars-ingest", "{data}", "{scratch}"],
                ),
                Contender(
                    "pandas read_csv chunks -> parquet (no checks)",
                    ["pandas-ingest", "{data}", "{scratch}"],
                ),
            ],
        ),
        "rfm": Scenario(
            name="rfm",
            description="RFM scores and the eight groups for every customer (1 year window)",
            prepare=_prepare_rfm,
            unit="customers",
            contenders=[
                Contender("lodestar rfm (from its store)", ["lodestar-rfm", "{data}", "{scratch}"]),
                Contender("duckdb SQL over Parquet", ["duckdb-rfm", "{data}", "{scratch}"]),
                Contender("polars over Parquet", ["polars-rfm", "{data}", "{scratch}"]),
                Contender("pandas over Parquet", ["pandas-rfm", "{data}", "{scratch}"]),
            ],
        ),
        "tags": Scenario(
            name="tags",
            description="the full built-in tag library (80 tags) for every customer, full build",
            prepare=_prepare_rfm,  # the same generated bank as the RFM scenario
            unit="customers",
            contenders=[
                Contender(
                    "lodestar tags (one compiled query)", ["lodestar-tags", "{data}", "{scratch}"]
                ),
                Contender("one query per tag", ["per-tag-queries", "{data}", "{scratch}"]),
            ],
        ),
        "segment": Scenario(
            name="segment",
            description=(
                "count over 30 yes/no tags (10 OR-groups of 3, some negated, ANDed; 1% NULLs; "
                "tags synthesised, seeded, as table profile_bench); median of 200 counts with "
                "the data already in memory"
            ),
            prepare=_prepare_segment,
            unit="customers",
            contenders=[
                Contender(
                    "lodestar profile index (packed bitmaps)",
                    ["lodestar-segment", "{data}", "{scratch}"],
                ),
                Contender(
                    "duckdb SQL, in-memory table",
                    ["duckdb-segment", "{data}", "{scratch}"],
                    compare=("rows", "count"),
                ),
                Contender(
                    "polars expression",
                    ["polars-segment", "{data}", "{scratch}"],
                    compare=("rows", "count"),
                ),
                Contender(
                    "pandas nullable booleans",
                    ["pandas-segment", "{data}", "{scratch}"],
                    compare=("rows", "count"),
                ),
                Contender(
                    "pyroaring bitmaps",
                    ["roaring-segment", "{data}", "{scratch}"],
                    compare=("rows", "count"),
                ),
            ],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--scenario", default="generate,ingest")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "work")
    args = parser.parse_args()
    known = scenarios(args.customers)
    print(f"# Lodestar benchmarks ({machine()}), median of {args.repeat} runs\n")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.scenario.split(","):
        scenario = known[name]
        results = run_scenario(scenario, args.customers, args.repeat, args.work)
        print(render(scenario, args.customers, results), flush=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out_dir / f"{name}-{args.customers}-{stamp}.json").write_text(
            json.dumps([asdict(m) for m in results], indent=2, default=str)
        )


if __name__ == "__main__":
    main()
