"""YAML documents that remember where every value came from.

Users configure tags, segments, offers, contact policies and campaigns in YAML; an error must name
the file, the line and the field. :func:`load_located` parses a document once and keeps the line
of every mapping key and sequence item, addressed by its path (``("tags", 3, "definition")``).

>>> doc = load_located_text("tags:\\n  - name: a\\n    type: number\\n", "t.yaml")
>>> doc.line("tags", 0, "type")
3
>>> doc.where("tags", 0, "type")
't.yaml:3'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lodestar.errors import ConfigError

PathKey = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    data: Any
    source: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, *path: str | int) -> int | None:
        """Line of ``path``, else of its nearest ancestor that has one."""
        key: PathKey = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def where(self, *path: str | int) -> str:
        line = self.line(*path)
        return f"{self.source}:{line}" if line else self.source


def field_name(path: PathKey) -> str:
    """``("tags", 3, "definition", "window")`` -> ``tags[3].definition.window``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _scalar(node: yaml.Node) -> Any:
    # The safe constructor resolves tags (int, float, bool, null, dates) exactly as
    # yaml.safe_load would.
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _convert(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if isinstance(key, str | int):
                lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = _convert(value_node, (*path, key), lines)
            else:
                out[key] = _convert(value_node, path, {})
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def load_located_text(text: str, source: str) -> LocatedDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    lines: dict[PathKey, int] = {}
    data = None if node is None else _convert(node, (), lines)
    return LocatedDocument(data, source, lines)


def load_located(path: str | Path) -> LocatedDocument:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return load_located_text(text, str(p))



def pydantic_problems(exc: Any, *, docs: str = "the documentation") -> list[tuple[PathKey, str]]:
    """A pydantic ``ValidationError`` as (field path, message in the house's words), one per
    problem: "unknown field", "is required", custom validators' text without pydantic's prefix.

    A union (e.g. ``all | same | a list of channels``) reports every branch that failed; only
    the branch that matches the kind of value written is kept (for a list: its items' errors),
    and pydantic's branch names are left out of the path.
    """
    errors = []
    for error in exc.errors():
        branch = next((p for p in error["loc"] if _union_tag(p)), None)
        path = tuple(p for p in error["loc"]
                     if isinstance(p, str | int) and p != "[key]" and not _union_tag(p))  # fmt: skip
        errors.append((path, branch, error))
    out: list[tuple[PathKey, str]] = []
    for path, branch, error in errors:
        if branch is not None and any(
            b is not None and b != branch and len(p) > len(path) and p[: len(path)] == path
            for p, b, _ in errors
        ):
            continue
        kind = error.get("type", "")
        if kind == "extra_forbidden":
            message = f"unknown field (check its spelling against {docs})"
        elif kind == "missing":
            message = "is required"
        else:
            message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        out.append((path, message))
    return out


def _union_tag(part: object) -> bool:
    # pydantic names a union's branch in the location ("literal['all','same']", "tuple[...]")
    return isinstance(part, str) and "[" in part and part != "[key]"


def validate_located(model: Any, doc: LocatedDocument, *, what: str) -> Any:
    """``doc.data`` validated into the pydantic ``model``; every problem is reported at once as
    ``file:line: field 'x.y': message`` (:class:`~lodestar.errors.DefinitionError`).

    The line is that of the field, else of its nearest ancestor (a missing field points at the
    mapping that lacks it).
    """
    from pydantic import ValidationError

    from lodestar.errors import DefinitionError

    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems = [f"{doc.where(*path)}: field '{field_name(path) or '(document)'}': {message}"
                    for path, message in pydantic_problems(exc)]  # fmt: skip
        raise DefinitionError(problems, what=what) from None
