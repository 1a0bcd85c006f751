"""Contact policy speed: the batch over 1M customers x 5 channels, one-customer checks, and
ledger reservations.

    PYTHONPATH=src python -m bench.contact_policy_speed --customers 1000000

Synthetic audience: 8 time zones (2% missing), addresses missing for ~10% per field, 4 consent
records per customer (some refused or withdrawn), 5 past contacts per customer over 40 days
(some opted out or complained), 1% on the do-not-contact list, 0.5% with a complaint; the shipped
default policy. Before any figure is printed, 2,000 random pairs are checked against
``check``. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from lodestar.decisioning.contact_ledger import ContactLedger
from lodestar.decisioning.contact_policy import check, default_policy, evaluate
from lodestar.storage.operational import OperationalStore

ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "America/New_York",
         "Europe/London", "Australia/Sydney", "Asia/Kolkata", "America/Los_Angeles"]  # fmt: skip
CHANNELS = ["sms", "email", "app_push", "wecom", "telemarketing"]
AT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


def synthetic(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(n).astype(str)).astype(object)

    def sometimes(values: np.ndarray, share: float) -> np.ndarray:
        out = values.astype(object)
        out[rng.random(n) < share] = None
        return out

    zones = np.array(ZONES, dtype=object)[rng.integers(0, len(ZONES), n)]
    customers = pd.DataFrame({
        "customer_id": ids, "time_zone": sometimes(zones, 0.02),
        "phone": sometimes(np.char.add("138", np.arange(n).astype(str)), 0.1),
        "email": sometimes(np.char.add(ids.astype(str), "@x.cn"), 0.1),
        "app_user_id": sometimes(ids.astype(str), 0.1),
        "wecom_id": sometimes(ids.astype(str), 0.1),
    })  # fmt: skip
    k = 4 * n
    ts = AT - pd.to_timedelta(rng.integers(1, 400 * 86400, k), unit="s")
    consents = pd.DataFrame({
        "customer_id": np.repeat(ids, 4),
        "channel": np.array(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), k)],
        "purpose": np.where(rng.random(k) < 0.9, "marketing", "service"),
        "granted": rng.random(k) < 0.92,
        "ts": ts,
        "withdrawn_at": pd.Series(ts + pd.Timedelta(days=30)).where(rng.random(k) < 0.05),
    })  # fmt: skip
    h = 5 * n
    outcome = np.array(["no_response", "responded", "opted_out", "complained"], dtype=object)
    history = pd.DataFrame({
        "customer_id": np.repeat(ids, 5),
        "channel": np.array(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), h)],
        "contacted_at": AT - pd.to_timedelta(rng.integers(60, 40 * 86400, h), unit="s"),
        "arm": np.where(rng.random(h) < 0.9, "treatment", "control"),
        "outcome": outcome[rng.choice(4, h, p=[0.8, 0.18, 0.015, 0.005])],
    })  # fmt: skip
    pick = rng.choice(n, n // 100, replace=False)
    dnc = pd.DataFrame({
        "customer_id": ids[pick],
        "channel": np.where(rng.random(len(pick)) < 0.5, "all", "sms"),
        "reason": "customer_request", "added_at": AT - pd.Timedelta(days=10),
        "expires_at": pd.Series([AT + timedelta(days=30)] * len(pick)),
    })  # fmt: skip
    pick = rng.choice(n, n // 200, replace=False)
    complaints = pd.DataFrame({"customer_id": ids[pick],
                               "ts": AT - pd.to_timedelta(rng.integers(1, 60, len(pick)),
                                                          unit="D")})  # fmt: skip
    return {"customers": customers, "history": history, "consents": consents,
            "do_not_contact": dnc, "complaints": complaints}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    policy = default_policy()
    t0 = time.perf_counter()
    data = synthetic(args.customers)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    decision = evaluate(policy, data["customers"], CHANNELS, "marketing", AT, data["history"],
                        data["consents"], data["do_not_contact"], data["complaints"])  # fmt: skip
    batch = time.perf_counter() - t0

    # agreement and single-customer latency on a sample (frames filtered per customer first,
    # as a real-time caller holding one customer's rows would)
    rng = np.random.default_rng(1)
    frame = decision.frame
    by_customer = {name: df.groupby("customer_id") for name, df in data.items()
                   if name != "customers"}  # fmt: skip
    latencies = []
    for i in rng.choice(len(frame), args.checks, replace=False):
        row = frame.iloc[i]
        cid = row["customer_id"]
        rows = {name: (g.get_group(cid).to_dict("records") if cid in g.groups else [])
                for name, g in by_customer.items()}  # fmt: skip
        cust = data["customers"].iloc[i // len(CHANNELS)].to_dict()
        t0 = time.perf_counter()
        v = check(policy, cust, str(row["channel"]), "marketing", AT, rows["history"],
                  rows["consents"], rows["do_not_contact"], rows["complaints"])  # fmt: skip
        latencies.append(time.perf_counter() - t0)
        got = None if pd.isna(row["reason"]) else row["reason"]
        assert (v.reason.value if v.reason else None) == got, (cid, row["channel"], v)

    with tempfile.TemporaryDirectory() as tmp:
        store = OperationalStore(f"sqlite:///{os.path.join(tmp, 'ops.sqlite')}")
        store.migrate()
        ledger = ContactLedger(store)
        reserve = []
        for i in range(1000):
            t0 = time.perf_counter()
            ledger.try_reserve(policy, f"C{i % 200}", "Asia/Shanghai", "email", "marketing",
                               "K", AT)  # fmt: skip
            reserve.append(time.perf_counter() - t0)
        store.dispose()

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000

    pairs = len(frame)
    print(f"| contact policy | {args.customers:,} customers x {len(CHANNELS)} channels "
          f"({pairs:,} pairs) |")  # fmt: skip
    print("|---|---|")
    print(f"| synthetic data | {built:.1f} s |")
    print(f"| `evaluate` (batch) | {batch:.1f} s, {pairs / batch / 1e6:.2f}M pairs/s |")
    print(f"| allowed / held | {decision.allowed:,} / {decision.held:,} |")
    print(f"| `check` p50 / p99 | {p(latencies, 50):.2f} / {p(latencies, 99):.2f} ms "
          f"({args.checks} pairs, all equal to the batch) |")  # fmt: skip
    print(f"| `ContactLedger.try_reserve` SQLite p50 / p99 | {p(reserve, 50):.2f} / "
          f"{p(reserve, 99):.2f} ms |")  # fmt: skip
    print()
    print(decision.funnel().to_markdown(index=False) if _has_tabulate() else decision.funnel())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
