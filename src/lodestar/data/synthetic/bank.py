"""The synthetic bank, chunk by chunk.

Customers are generated in chunks so memory stays flat from ten thousand to ten million
customers. Each chunk has its own random stream spawned from the seed, so a chunk's content
depends only on (seed, chunk index, chunk size): the same arguments give the same bank.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa

from lodestar.data.catalogue import products_table
from lodestar.data.synthetic.accounts import make_book
from lodestar.data.synthetic.activity import make_events, make_transactions
from lodestar.data.synthetic.calendar import Calendar
from lodestar.data.synthetic.campaigns import make_contacts, past_campaigns_table
from lodestar.data.synthetic.people import make_people
from lodestar.data.synthetic.relationship import make_complaints, make_consents, make_surveys

DEFAULT_AS_OF = date(2026, 6, 30)

#: Rough rows per customer of each entity, for progress bars and sizing.
ROWS_PER_CUSTOMER = {
    "customers": 1.0, "holdings": 3.53, "transactions": 29.5, "events": 52.5, "identities": 2.32,
    "consents": 8.0, "campaign_contacts": 0.74, "campaign_truth": 1.0, "surveys": 0.19,
    "complaints": 0.02,
}  # fmt: skip


def estimate_rows(customers: int) -> int:
    """Approximate number of rows :func:`generate_bank` yields (for a progress bar)."""
    return int(customers * sum(ROWS_PER_CUSTOMER.values()))


def generate_bank(
    customers: int,
    seed: int,
    *,
    as_of: date = DEFAULT_AS_OF,
    history_days: int = 730,
    chunk_size: int = 50_000,
) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(entity, table)`` pairs of a synthetic bank, referenced entities first.

    >>> counts = {}
    >>> for name, table in generate_bank(200, seed=1):
    ...     counts[name] = counts.get(name, 0) + table.num_rows
    >>> counts["customers"]
    200
    """
    cal = Calendar(as_of, history_days)
    yield "products", products_table()
    yield "past_campaigns", past_campaigns_table(cal)
    chunks = max(1, -(-customers // chunk_size))
    streams = np.random.SeedSequence(seed).spawn(chunks)
    for c in range(chunks):
        first = c * chunk_size + 1
        n = min(chunk_size, customers - c * chunk_size)
        rng = np.random.default_rng(streams[c])
        pop = make_people(rng, first, n, cal)
        book = make_book(rng, pop, cal)
        yield "customers", pop.table
        yield "holdings", book.table
        yield "transactions", make_transactions(rng, pop, book, cal)
        events, identities = make_events(rng, pop, book, cal)
        yield "events", events
        yield "identities", identities
        yield "consents", make_consents(rng, pop, cal)
        contacts, truth = make_contacts(rng, pop, book, cal)
        yield "campaign_contacts", contacts
        yield "campaign_truth", truth
        yield "surveys", make_surveys(rng, pop, cal)
        yield "complaints", make_complaints(rng, pop, cal)
