"""Bandit regret: Thompson sampling with a minimum exploration share against a fixed equal
split and epsilon-greedy, on simulated true conversion rates.

    PYTHONPATH=src python -m bench.bandit_regret --rounds 20 --per-round 2000 --seeds 20

Each scenario has 4-6 arms with known true rates; every policy sees the same customers per
round and learns from the cumulative results of the rounds before. Regret is the expected
conversions lost against giving everyone the best arm. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics

from lodestar.experiments.bandit_simulation import POLICIES, simulate

SCENARIOS: dict[str, list[float]] = {
    "clear winner (4 arms: 2%, 2.5%, 3%, 5%)": [0.02, 0.025, 0.03, 0.05],
    "close race (5 arms: 4.0%, 4.2%, 4.4%, 4.6%, 4.8%)": [0.040, 0.042, 0.044, 0.046, 0.048],
    "two good of six (1%, 1.5%, 2%, 2%, 3.4%, 3.6%)": [0.01, 0.015, 0.02, 0.02, 0.034, 0.036],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--floor", type=float, default=0.05)
    parser.add_argument("--epsilon", type=float, default=0.1)
    args = parser.parse_args()
    print(
        f"{args.rounds} rounds x {args.per_round:,} customers, {args.seeds} seeds; Thompson "
        f"floor {args.floor:.0%} per arm, epsilon-greedy epsilon {args.epsilon:.0%}; "
        "mean (min-max) over seeds\n"
    )
    for title, rates in SCENARIOS.items():
        print(f"### {title}\n")
        print(
            "| policy | cumulative regret (conversions) | traffic on the best arm | "
            "best arm's share, last round |"
        )
        print("| --- | ---: | ---: | ---: |")
        # Thompson twice: with the floor asked for, and with the exploration epsilon-greedy
        # gives each losing arm (epsilon / arms), so the two are compared like for like
        rows = [(f"thompson, floor {args.floor:.1%}", "thompson", args.floor),
                (f"thompson, floor {args.epsilon / len(rates):.1%} (= epsilon / arms)",
                 "thompson", args.epsilon / len(rates))]  # fmt: skip
        rows += [(p, p, args.floor) for p in POLICIES if p != "thompson"]
        for label, policy, floor in rows:
            runs = [simulate(policy, rates, rounds=args.rounds, per_round=args.per_round,
                             seed=seed, floor=floor, epsilon=args.epsilon)
                    for seed in range(args.seeds)]  # fmt: skip
            regret = [r.regret for r in runs]
            best = [r.best_share for r in runs]
            last = [r.final_best_share for r in runs]
            print(
                f"| {label} | {statistics.mean(regret):.1f} ({min(regret):.1f}-"
                f"{max(regret):.1f}) | {statistics.mean(best):.1%} | "
                f"{statistics.mean(last):.1%} |"
            )
        print()


if __name__ == "__main__":
    main()
