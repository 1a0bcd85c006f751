"""A realistic, reproducible synthetic retail bank (``lodestar generate``).

See ``docs/synthetic-bank.md`` for what it generates and the truths it records.
"""

from lodestar.data.synthetic.bank import DEFAULT_AS_OF, estimate_rows, generate_bank

__all__ = ["DEFAULT_AS_OF", "estimate_rows", "generate_bank"]
