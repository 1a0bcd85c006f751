"""A referral worker in its own process, for the two-process test: reads the event feed of the
store at argv[1] for programme argv[2] in small batches until it has nothing left."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from referral_fixtures import programme_text

from conftest import CATALOGUE_TEXT
from lodestar.campaigns.referrals.engine import ReferralEngine
from lodestar.campaigns.referrals.programme import Programme
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.storage.operational import OperationalStore


def main() -> None:
    url, pid = sys.argv[1:3]
    store = OperationalStore(url)
    engine = ReferralEngine(store, Programme.from_text(programme_text(pid, per_hour=50)),
                            RightsCatalogue.from_text(CATALOGUE_TEXT))  # fmt: skip
    # Small batches so the two processes interleave; both start from the same cursor, so most
    # events reach both of them.
    handled = steps = 0
    while True:
        summary = engine.process(limit=7)
        if not summary.events:
            break
        handled += summary.events
        steps += summary.steps
    print(handled, steps)
    store.dispose()


if __name__ == "__main__":
    main()
