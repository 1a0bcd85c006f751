"""Example files the workspace ships (offers, campaign plan, rights, points rules): copied into a
workspace folder on request, never over a user's edits unless asked, and audited."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any


def copy_examples(ops: Any, root: Path, package: str, names: tuple[str, ...], *,
                  action: str, actor: str, overwrite: bool = False) -> list[Path]:  # fmt: skip
    """Copy ``names`` from ``package``'s ``examples`` folder into ``root``; existing files are
    kept unless ``overwrite``. Returns the files written (one audit entry for them)."""
    written = []
    examples = resources.files(package) / "examples"
    for name in names:
        target = root / name
        if target.exists() and not overwrite:
            continue
        with resources.as_file(examples / name) as source:
            shutil.copyfile(source, target)
        written.append(target)
    if written:
        with ops.begin() as conn:
            ops.audit(conn, actor=actor, action=action, entity=action.split(".", maxsplit=1)[0],
                      after=[p.name for p in written])  # fmt: skip
    return written
