"""Warnings about expressions that are valid but probably not what was meant.

Event names and product ids are open sets (a bank adds events and products all the time), so an
unknown one is not an error: ``did('aply_start')`` counts nobody, and the warning says so, with
the close spellings that do occur in the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lodestar.errors import caret
from lodestar.i18n import resolve_locale, t
from lodestar.segments.catalogue import suggest
from lodestar.segments.nodes import Did, Holds, Node, walk


@dataclass(frozen=True)
class SegmentWarning:
    key: str
    position: int | None
    expression: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, locale: str | None = None) -> str:
        loc = resolve_locale(locale)
        lines = [t(self.key, loc, column=self.position, **self.params)]
        if self.position is not None:
            lines += ["  " + self.expression, "  " + caret(self.expression, self.position)]
        if self.params.get("options"):
            hint = t("seg.hint.did_you_mean", loc, options=self.params["options"])
            lines.append(f"  {t('seg.hint', loc)}{hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def lint(
    node: Node,
    expression: str,
    events: Callable[[], frozenset[str]],
    products: Callable[[], frozenset[str]],
) -> list[SegmentWarning]:
    """Warnings for ``node`` (parsed from ``expression``). ``events`` / ``products`` return the
    names present in the data; they are called only when the expression uses them."""
    out: list[SegmentWarning] = []
    for n in walk(node):
        if isinstance(n, Did) and n.event not in (known := events()):
            out.append(SegmentWarning("seg.warn.unknown_event", n.pos, expression,
                                      {"name": n.event,
                                       "options": ", ".join(suggest(n.event, known))}))  # fmt: skip
        if isinstance(n, Holds) and n.product is not None and n.product not in (p := products()):
            out.append(SegmentWarning("seg.warn.unknown_product", n.pos, expression,
                                      {"name": n.product,
                                       "options": ", ".join(suggest(n.product, p))}))  # fmt: skip
    return out
