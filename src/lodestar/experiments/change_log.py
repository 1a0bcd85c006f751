"""The append-only log of a strategy pool's changes: ``experiments/<key>/changes.jsonl`` in the
workspace folder, one :class:`~lodestar.experiments.strategy_pool.Change` per line.

Why a file and not the operational audit trail: each change carries the statistics behind it
(counts, means, chances to beat, thresholds), which are experiment data an analyst reads,
diffs and loads into a notebook, not an operational action; the pool is rebuilt by replaying
the file, so it must hold every change in order and nothing else. Lines are only ever appended
(a crash mid-write leaves at most one unreadable last line, reported with its line number).
Rounds of one experiment are meant to be run by one scheduled job, not concurrently.

>>> import tempfile, pathlib
>>> log = ChangeLog(pathlib.Path(tempfile.mkdtemp()), "offer-test")
>>> log.read()
[]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

from lodestar.errors import ConfigError
from lodestar.experiments.strategy_pool import Change

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FIELDS = {f.name for f in fields(Change)}


class ChangeLog:
    def __init__(self, root: Path, key: str) -> None:
        if not _KEY.match(key):
            raise ConfigError(f"experiment key '{key}' must be letters, digits, '.', '_' or '-'",
                              hint="e.g. card-offer-2026q4")  # fmt: skip
        self.key = key
        self.path = Path(root) / "experiments" / key / "changes.jsonl"

    def append(self, changes: Iterable[Change]) -> int:
        """Append ``changes`` in order; returns how many were written."""
        lines = [json.dumps(c.as_dict(), ensure_ascii=False, default=float) + "\n"
                 for c in changes]  # fmt: skip
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(lines)
        return len(lines)

    def read(self) -> list[Change]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    out.append(Change(**{k: v for k, v in row.items() if k in _FIELDS}))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise ConfigError(f"{self.path}:{number}: not a change record ({exc})") \
                        from None  # fmt: skip
        return out
