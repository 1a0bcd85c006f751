"""Greedy repair: from the Lagrangian choices to an allocation that respects every limit.

The Lagrangian choices at good prices nearly fit; what breaks a limit is a thin margin of
customers. The repair walks actions in adjusted-score order and takes each one that still fits:
first the Lagrangian choices (so the best-scoring ones keep their places), then every other
profitable action of customers with a free slot (leftover capacity is not wasted).

A row-by-row walk in Python would cost seconds per million rows, so the walk runs in rounds: each
round drops the rows that no longer fit on their own, accepts the longest prefix that fits as a
whole (cumulative sums per limit), and discards the row that broke it (limits only fill up, so it
can never fit again). Only what is left after ``MAX_ROUNDS`` rounds is walked row by row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lodestar.decisioning.lagrangian import BUDGET, CHANNEL, OFFER_BUDGET, OFFER_COUNT, Problem

MAX_ROUNDS = 64
_HEAD = 1_000_000  # rows per round in the fill, so de-duplicating customers stays cheap


@dataclass
class _State:
    remaining: np.ndarray  # per priced limit
    slots: np.ndarray  # free actions per customer group
    taken_pair: np.ndarray | None  # (customer, offer) pairs already given (k >= 2)
    accepted: np.ndarray  # per working row


def repair(problem: Problem, a: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Working rows of a feasible allocation built from ``picks`` in order of ``a``."""
    n = len(problem.rows)
    state = _State(
        remaining=problem.cap.astype(np.float64).copy(),
        slots=np.full(problem.n_groups, problem.k, dtype=np.int64),
        taken_pair=(
            np.zeros(len(problem.co_starts), dtype=bool) if problem.co_starts is not None else None
        ),
        accepted=np.zeros(n, dtype=bool),
    )
    first = picks[np.argsort(-a[picks], kind="stable")]
    _walk(problem, state, first, one_per_customer=False)
    # only customers with a free slot can take more: one gather instead of filtering every row
    pool = np.flatnonzero((state.slots > 0)[problem.group] & ~state.accepted)
    pool = pool[_fits(problem, state, pool)]
    pool = pool[np.argsort(-a[pool], kind="stable")]
    _walk(problem, state, pool, one_per_customer=True)
    return np.flatnonzero(state.accepted)


def _fits(problem: Problem, state: _State, rows: np.ndarray) -> np.ndarray:
    """Rows that fit on their own: a free slot, a new offer for the customer, room in limits."""
    ok = state.slots[problem.group[rows]] > 0
    if state.taken_pair is not None and problem.co is not None:
        ok &= ~state.taken_pair[problem.co[rows]]
    cny_room = np.full(problem.n_offers, np.inf)  # CNY an action of each offer may still cost
    action_room = np.full((problem.n_offers, problem.n_channels), np.inf)
    for kind, index, left in zip(problem.kind, problem.index, state.remaining, strict=True):
        if kind == BUDGET:
            np.minimum(cny_room, left, out=cny_room)
        elif kind == OFFER_BUDGET:
            cny_room[index] = min(cny_room[index], left)
        elif kind == OFFER_COUNT:
            np.minimum(action_room[index, :], left, out=action_room[index, :])
        else:
            np.minimum(action_room[:, index], left, out=action_room[:, index])
    if np.isfinite(cny_room).any():
        ok &= problem.cost[rows] <= cny_room[problem.offer[rows]]
    if np.isfinite(action_room).any():
        ok &= (action_room >= 1).ravel()[problem.oc[rows]]
    return ok


def _fitting_prefix(problem: Problem, state: _State, rows: np.ndarray) -> int:
    """Length of the longest prefix of ``rows`` that fits every limit together."""
    end = len(rows)
    cost = problem.cost[rows]
    offer = problem.offer[rows]
    channel = problem.channel[rows]
    for kind, index, left in zip(problem.kind, problem.index, state.remaining, strict=True):
        if kind == BUDGET:
            where = None
        elif kind in (OFFER_BUDGET, OFFER_COUNT):
            where = np.flatnonzero(offer[:end] == index)
        else:
            where = np.flatnonzero(channel[:end] == index)
        if kind in (OFFER_COUNT, CHANNEL):
            assert where is not None
            if len(where) > left:
                end = min(end, int(where[int(left)]))
            continue
        spent = np.cumsum(cost[:end] if where is None else cost[where])
        over = np.flatnonzero(spent > left)
        if len(over):
            end = min(end, int(over[0]) if where is None else int(where[over[0]]))
    return end


def _accept(problem: Problem, state: _State, rows: np.ndarray) -> None:
    if not len(rows):
        return
    state.accepted[rows] = True
    np.subtract.at(state.slots, problem.group[rows], 1)
    if state.taken_pair is not None and problem.co is not None:
        state.taken_pair[problem.co[rows]] = True
    cost, offer, channel = problem.cost[rows], problem.offer[rows], problem.channel[rows]
    for j, (kind, index) in enumerate(zip(problem.kind, problem.index, strict=True)):
        if kind == BUDGET:
            state.remaining[j] -= cost.sum()
        elif kind == OFFER_BUDGET:
            state.remaining[j] -= cost[offer == index].sum()
        elif kind == OFFER_COUNT:
            state.remaining[j] -= np.count_nonzero(offer == index)
        else:
            state.remaining[j] -= np.count_nonzero(channel == index)


def _walk(problem: Problem, state: _State, rows: np.ndarray, *, one_per_customer: bool) -> None:
    """Take each row of ``rows`` (in order) that still fits."""
    if one_per_customer:
        first_at = np.full(problem.n_groups, np.iinfo(np.int64).max, dtype=np.int64)
        gone = np.zeros(len(problem.rows), dtype=bool)
    for _ in range(MAX_ROUNDS):
        rows = rows[_fits(problem, state, rows)]
        if not len(rows):
            return
        head = rows
        if one_per_customer:
            # a customer's later rows wait for the next round, when its slots are known
            head = rows[:_HEAD]
            group = problem.group[head]
            place = np.arange(len(head))
            np.minimum.at(first_at, group, place)
            head = head[first_at[group] == place]
            first_at[group] = np.iinfo(np.int64).max
        end = _fitting_prefix(problem, state, head)
        _accept(problem, state, head[:end])
        if one_per_customer:
            gone[head[: end + 1]] = True  # the accepted prefix and the row that broke it
            rows = rows[~gone[rows]]
        else:
            rows = rows[end + 1 :]
    _walk_row_by_row(problem, state, rows)


def _walk_row_by_row(problem: Problem, state: _State, rows: np.ndarray) -> None:
    # the limits each row draws on: (limit, charged in CNY rather than one action)
    budget = [j for j, k in enumerate(problem.kind) if k == BUDGET]
    per_offer: dict[int, list[tuple[int, bool]]] = {}
    per_channel: dict[int, list[tuple[int, bool]]] = {}
    for j, (kind, index) in enumerate(zip(problem.kind, problem.index, strict=True)):
        if kind == OFFER_BUDGET:
            per_offer.setdefault(int(index), []).append((j, True))
        elif kind == OFFER_COUNT:
            per_offer.setdefault(int(index), []).append((j, False))
        elif kind == CHANNEL:
            per_channel.setdefault(int(index), []).append((j, False))
    remaining = state.remaining.tolist()
    for start in range(0, len(rows), 4096):
        chunk = rows[start : start + 4096]
        chunk = chunk[_fits(problem, state, chunk)]
        groups = problem.group[chunk].tolist()
        pairs = problem.co[chunk].tolist() if problem.co is not None else groups
        costs = problem.cost[chunk].tolist()
        offers = problem.offer[chunk].tolist()
        channels = problem.channel[chunk].tolist()
        for i, r in enumerate(chunk.tolist()):
            g = groups[i]
            if state.slots[g] <= 0:
                continue
            if state.taken_pair is not None and state.taken_pair[pairs[i]]:
                continue
            c = costs[i]
            needs = [(j, c) for j in budget]
            needs += [(j, c if cny else 1.0) for j, cny in per_offer.get(offers[i], ())]
            needs += [(j, 1.0) for j, _ in per_channel.get(channels[i], ())]
            if any(need > remaining[j] for j, need in needs):
                continue
            for j, need in needs:
                remaining[j] -= need
            state.slots[g] -= 1
            if state.taken_pair is not None:
                state.taken_pair[pairs[i]] = True
            state.accepted[r] = True
        state.remaining[:] = remaining
