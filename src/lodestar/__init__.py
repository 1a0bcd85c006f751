"""Lodestar: precision marketing and customer operations for retail banks.

The public API is the :class:`~lodestar.workspace.Workspace` facade::

    from lodestar import Workspace
    ws = Workspace.init("my-bank")
    ws.generate(customers=10_000, seed=7)

Nothing heavy is imported here; attributes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Workspace", "__version__"]

if TYPE_CHECKING:
    from lodestar.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from lodestar.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'lodestar' has no attribute {name!r}")
