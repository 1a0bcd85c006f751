"""Deterministic assignment of customers to a holdout and to A/B arms.

A customer's draw is a hash of the experiment key, a salt and the customer id, read as a number
in [0, 1): the same customer lands in the same arm every time the plan is made again, on any
machine, without storing anything, and two experiments with different keys draw independently.

>>> a = assign(["C1", "C2", "C3"], "exp-1", arms=(Arm("A", 1), Arm("B", 1)), holdout=0.0)
>>> a == assign(["C1", "C2", "C3"], "exp-1", arms=(Arm("A", 1), Arm("B", 1)), holdout=0.0)
True

With ``strata`` the arms are balanced inside every stratum: customers of a stratum are ordered by
their draw and dealt to the arms by quota (largest remainder), so each stratum's split matches
the weights to within one customer, not only on average.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lodestar.errors import ConfigError

CONTROL = "control"


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.name or self.name == CONTROL:
            raise ConfigError(f"arm name '{self.name}' is reserved or empty",
                              hint="name arms A, B, ... ; the holdout is 'control'")  # fmt: skip
        if not self.weight > 0:
            raise ConfigError(f"arm '{self.name}': weight must be > 0, got {self.weight}")


def draws(ids: Sequence[str] | np.ndarray, key: str, salt: str = "") -> np.ndarray:
    """Each id's uniform draw in [0, 1) for ``key`` (blake2b, 53 bits: exact in a float)."""
    prefix = f"{salt}\x1f{key}\x1f".encode()
    out = np.empty(len(ids), dtype=np.float64)
    for i, customer in enumerate(ids):
        digest = hashlib.blake2b(prefix + str(customer).encode(), digest_size=8).digest()
        out[i] = (int.from_bytes(digest, "big") >> 11) / float(1 << 53)
    return out


def assign(
    ids: Sequence[str] | np.ndarray,
    key: str,
    *,
    arms: Sequence[Arm] = (Arm("treatment"),),
    holdout: float = 0.0,
    salt: str = "",
    strata: Sequence[object] | np.ndarray | None = None,
) -> np.ndarray:
    """The arm of each id (an object array of names; ``control`` for the holdout).

    The holdout share is exact in expectation (stratified: to within one per stratum); arms
    split the rest by weight.
    """
    if not 0.0 <= holdout < 1.0:
        raise ConfigError(f"holdout must be in [0, 1), got {holdout}")
    if not arms:
        raise ConfigError("at least one arm is needed")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ConfigError(f"arm names repeat: {', '.join(names)}")
    n = len(ids)
    if strata is not None and len(strata) != n:
        raise ConfigError(f"strata has {len(strata)} values for {n} customers")
    # One draw decides holdout and arm together: [0, h) is control, the rest is cut by weight.
    u = draws(ids, key, salt)
    weights = np.array([a.weight for a in arms], dtype=np.float64)
    shares = np.concatenate([[holdout], (1 - holdout) * weights / weights.sum()])
    labels = np.array([CONTROL, *names], dtype=object)
    if strata is None:
        edges = np.cumsum(shares)[:-1]
        return labels[np.searchsorted(edges, u, side="right")]
    out = np.empty(n, dtype=object)
    stratum = np.asarray(strata, dtype=object)
    keys, inverse = np.unique(stratum.astype(str), return_inverse=True)
    for s in range(len(keys)):
        members = np.nonzero(inverse == s)[0]
        order = members[np.argsort(u[members], kind="stable")]
        quota = _quotas(len(order), shares)
        out[order] = np.repeat(labels, quota)
    return out


def _quotas(n: int, shares: np.ndarray) -> np.ndarray:
    """``n`` split by ``shares`` into whole numbers summing to ``n`` (largest remainder)."""
    exact = shares * n
    quota = np.floor(exact).astype(np.int64)
    short = n - int(quota.sum())
    if short:
        quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    return quota
