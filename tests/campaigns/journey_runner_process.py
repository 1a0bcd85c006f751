"""A journey runner in its own process, for the multi-process test: ticks the store at argv[1]
at the simulated time argv[2] (ISO), argv[3] times, with batches of argv[4]."""

from __future__ import annotations

import sys
from datetime import datetime

from lodestar.campaigns.journeys import JourneyRunner
from lodestar.storage.operational import OperationalStore


class NoAudience:
    def plan_contacts(self, definition, at):  # type: ignore[no-untyped-def]
        return []

    def matching(self, expression, customer_ids):  # type: ignore[no-untyped-def]
        return set(customer_ids)


def main() -> None:
    url, at, times, batch = sys.argv[1:5]
    store = OperationalStore(url)
    runner = JourneyRunner(store, NoAudience(), batch=int(batch))
    for _ in range(int(times)):
        runner.tick(datetime.fromisoformat(at))
    store.dispose()


if __name__ == "__main__":
    main()
