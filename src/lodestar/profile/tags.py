"""Tags as data: YAML definitions, loaded and validated with file / line / field errors.

A tag file (``tags/*.yaml`` in the workspace; the built-in library ships in
``lodestar/profile/builtin_tags/``) holds a list of tags::

    tags:
      - name: drawdown_count_90d
        label: {zh-CN: 近90天提款次数, en: Drawdowns in 90 days}
        description: Loan drawdowns in the last 90 days.
        owner: retail-credit
        group: activity                 # a theme, for listings
        type: number                    # boolean | category | number
        aggregate:                      # one definition: aggregate | expr | attribute | bands | case
          source: transactions          # transactions | events | holdings | complaints | surveys | campaign_contacts
          function: count               # see AGGREGATE_FUNCTIONS
          where: "type = 'loan_drawdown'"
          window: 90d                   # d / w / m (calendar months) / y, ending on the data date

      - name: heavy_borrower
        type: boolean
        expr: "drawdown_count_90d >= 3 and loan_balance > 100000"

      - name: age_band
        type: category
        bands: {of: age, cuts: [25, 35, 45, 60], labels: [lt25, 25_34, 35_44, 45_59, ge60]}
        values: {lt25: {zh-CN: 25岁以下, en: under 25}}     # optional display labels

      - name: value_segment
        type: category
        case:
          - {when: "aum >= 500000", then: affluent}
          - {when: "aum >= 50000", then: mass_affluent}
        else: mass

Definitions refer to customer attributes (the ``customers`` table, ``age``,
``tenure_months``), other profile columns (``rfm_group``, ``value_tier`` ...) and other tags.
A workspace tag with the name of a built-in one replaces it. Boolean tags are never null
(unknown counts as false), counts and sums of nothing are 0, other aggregates of nothing are
null.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from lodestar.errors import DefinitionError
from lodestar.located_yaml import LocatedDocument, PathKey, field_name, load_located

TagType = Literal["boolean", "category", "number"]
TAG_TYPES: tuple[str, ...] = ("boolean", "category", "number")
DEFINITION_KINDS = ("aggregate", "expr", "attribute", "bands", "case")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
WINDOW_RE = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$")
#: function -> needs a column
AGGREGATE_FUNCTIONS: dict[str, bool] = {
    "count": False, "exists": False, "sum": True, "avg": True, "min": True, "max": True,
    "count_distinct": True, "days_since_last": False, "days_since_first": False,
    "active_months": False, "mode": True, "last": True,
}  # fmt: skip
_KNOWN_KEYS = {
    "name", "label", "description", "owner", "group", "type", "values", "else", "enabled",
    *DEFINITION_KINDS,
}  # fmt: skip


@dataclass(frozen=True)
class Aggregate:
    source: str
    function: str
    column: str | None = None
    where: str | None = None
    window: str | None = None

    @property
    def window_parts(self) -> tuple[int, str] | None:
        if self.window is None:
            return None
        m = WINDOW_RE.match(str(self.window))
        return (int(m.group(1)), m.group(2)) if m else None


@dataclass(frozen=True)
class Bands:
    of: str
    cuts: tuple[float, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    whens: tuple[tuple[str, Any], ...]
    otherwise: Any = None


@dataclass(frozen=True)
class TagDef:
    """One tag. ``where(field)`` gives ``file:line`` for error messages."""

    name: str
    type: TagType
    kind: str
    definition: Aggregate | Bands | Case | str
    label_zh: str
    label_en: str
    description: str = ""
    owner: str = ""
    group: str = "custom"
    values: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""  # file
    builtin: bool = False
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def where(self, field_path: str = "") -> str:
        line = self.lines.get(field_path) or self.lines.get("")
        return f"{self.source}:{line}" if line else self.source

    def label(self, locale: str) -> str:
        return self.label_zh if locale == "zh-CN" else self.label_en

    def value_label(self, value: str, locale: str) -> str:
        zh, en = self.values.get(value, (value, value))
        return zh if locale == "zh-CN" else en


def builtin_tag_files() -> list[Path]:
    folder = resources.files("lodestar.profile") / "builtin_tags"
    return sorted(Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml"))


def workspace_tag_files(root: Path) -> list[Path]:
    folder = root / "tags"
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, doc: LocatedDocument, path: PathKey, message: str) -> None:
        self.items.append(f"{doc.where(*path)}: field '{field_name(path)}': {message}")


def _label(value: Any, name: str) -> tuple[str, str] | None:
    if value is None:
        return name, name
    if isinstance(value, str):
        return value, value
    if isinstance(value, Mapping):
        zh = value.get("zh-CN") or value.get("zh") or value.get("en")
        en = value.get("en") or zh
        if isinstance(zh, str) and isinstance(en, str):
            return zh, en
    return None


def _parse_tag(doc: LocatedDocument, i: int, raw: Any, problems: _Problems, builtin: bool
               ) -> TagDef | None:  # fmt: skip
    base: PathKey = ("tags", i)
    if not isinstance(raw, Mapping):
        problems.add(doc, base, "each tag is a mapping with name, type and a definition")
        return None
    n_before = len(problems.items)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(doc, (*base, "name"),
                     f"{name!r} is not a tag name: use lower-case letters, digits and _ "
                     "(starting with a letter, at most 63 characters)")  # fmt: skip
        name = str(name)
    for key in raw:
        if key not in _KNOWN_KEYS:
            problems.add(doc, (*base, str(key)),
                         f"unknown key; known keys: {', '.join(sorted(_KNOWN_KEYS))}")  # fmt: skip
    kind_ = raw.get("type")
    if kind_ not in TAG_TYPES:
        problems.add(
            doc, (*base, "type"), f"{kind_!r} is not a tag type: use {', '.join(TAG_TYPES)}"
        )
    kinds = [k for k in DEFINITION_KINDS if k in raw]
    if len(kinds) != 1:
        problems.add(doc, base,
                     f"tag '{name}' needs exactly one definition ({', '.join(DEFINITION_KINDS)})"
                     + (f"; it has {', '.join(kinds)}" if kinds else ""))  # fmt: skip
        return None
    kind = kinds[0]
    spec = raw[kind]
    dpath: PathKey = (*base, kind)
    definition: Aggregate | Bands | Case | str | None = None
    if kind in ("expr", "attribute"):
        if not isinstance(spec, str) or not spec.strip():
            problems.add(doc, dpath, f"{kind} must be a non-empty text")
        else:
            definition = spec
    elif kind == "aggregate":
        definition = _parse_aggregate(doc, dpath, spec, problems)
    elif kind == "bands":
        definition = _parse_bands(doc, dpath, spec, problems)
    else:
        definition = _parse_case(doc, base, spec, raw.get("else"), problems)
    label = _label(raw.get("label"), name)
    if label is None:
        problems.add(doc, (*base, "label"), "label is a text or {zh-CN: ..., en: ...}")
        label = (name, name)
    values: dict[str, tuple[str, str]] = {}
    raw_values = raw.get("values") or {}
    if not isinstance(raw_values, Mapping):
        problems.add(doc, (*base, "values"), "values maps each category value to its label")
    else:
        for value, lab in raw_values.items():
            if not isinstance(value, str):
                problems.add(doc, (*base, "values"),
                             f"value {value!r} is not text: put it in quotes (YAML reads 25_34 "
                             "as the number 2534)")  # fmt: skip
                continue
            parsed = _label(lab, str(value))
            if parsed is None:
                problems.add(doc, (*base, "values", str(value)), "a label is a text or {zh-CN, en}")
            else:
                values[str(value)] = parsed
    if len(problems.items) > n_before or definition is None:
        return None
    lines = {
        "": doc.line(*base) or 0,
        **{k: doc.line(*base, k) or 0 for k in raw},
        **{f"{kind}.{k}": doc.line(*dpath, k) or 0 for k in (spec if isinstance(spec, Mapping) else {})},
    }  # fmt: skip
    return TagDef(
        name=name, type=kind_, kind=kind, definition=definition,  # type: ignore[arg-type]
        label_zh=label[0], label_en=label[1],
        description=str(raw.get("description") or ""), owner=str(raw.get("owner") or ""),
        group=str(raw.get("group") or "custom"), values=values, source=doc.source,
        builtin=builtin, lines=lines,
    )  # fmt: skip


def _parse_aggregate(doc: LocatedDocument, path: PathKey, spec: Any, problems: _Problems
                     ) -> Aggregate | None:  # fmt: skip
    if not isinstance(spec, Mapping):
        problems.add(doc, path, "aggregate is a mapping with source, function, and optionally "
                                "column, where and window")  # fmt: skip
        return None
    ok = True
    for key in spec:
        if key not in ("source", "function", "column", "where", "window"):
            problems.add(doc, (*path, str(key)),
                         "unknown key; known: source, function, column, where, window")  # fmt: skip
            ok = False
    function = spec.get("function")
    if function not in AGGREGATE_FUNCTIONS:
        problems.add(doc, (*path, "function"),
                     f"{function!r} is not an aggregate; use {', '.join(AGGREGATE_FUNCTIONS)}")  # fmt: skip
        return None
    column = spec.get("column")
    if AGGREGATE_FUNCTIONS[function] and not isinstance(column, str):
        problems.add(doc, (*path, "column"), f"{function} needs a column")
        ok = False
    window = spec.get("window")
    if window is not None and not WINDOW_RE.match(str(window)):
        problems.add(doc, (*path, "window"),
                     f"{window!r} is not a window: write a number and a unit, e.g. 30d, 12w, "
                     "6m (calendar months) or 1y")  # fmt: skip
        ok = False
    elif window is not None and int(WINDOW_RE.match(str(window)).group(1)) == 0:  # type: ignore[union-attr]
        problems.add(doc, (*path, "window"), "a window must be at least 1 unit long")
        ok = False
    where = spec.get("where")
    if where is not None and not isinstance(where, str):
        problems.add(doc, (*path, "where"), "where is a condition in quotes, e.g. \"type = 'fee'\"")
        ok = False
    if not ok:
        return None
    return Aggregate(
        source=str(spec.get("source")), function=function,
        column=column if isinstance(column, str) else None,
        where=where, window=None if window is None else str(window).strip(),
    )  # fmt: skip


def _parse_bands(doc: LocatedDocument, path: PathKey, spec: Any, problems: _Problems
                 ) -> Bands | None:  # fmt: skip
    if not isinstance(spec, Mapping) or not isinstance(spec.get("of"), str):
        problems.add(doc, path, "bands is a mapping: {of: <name>, cuts: [...], labels: [...]}")
        return None
    cuts, labels = spec.get("cuts"), spec.get("labels")
    if (not isinstance(cuts, list) or not cuts
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in cuts)):  # fmt: skip
        problems.add(doc, (*path, "cuts"), "cuts is a list of numbers in ascending order")
        return None
    if cuts != sorted(cuts) or len(set(cuts)) != len(cuts):
        problems.add(doc, (*path, "cuts"), f"cuts must strictly ascend: {cuts}")
        return None
    if isinstance(labels, list) and any(not isinstance(v, str) for v in labels):
        problems.add(doc, (*path, "labels"),
                     "labels must be text: put each in quotes (YAML reads 25_34 as the number "
                     "2534)")  # fmt: skip
        return None
    if not isinstance(labels, list) or len(labels) != len(cuts) + 1:
        problems.add(doc, (*path, "labels"),
                     f"give {len(cuts) + 1} labels for {len(cuts)} cuts (one per band)")  # fmt: skip
        return None
    return Bands(spec["of"], tuple(float(c) for c in cuts), tuple(str(v) for v in labels))


def _parse_case(doc: LocatedDocument, base: PathKey, spec: Any, otherwise: Any,
                problems: _Problems) -> Case | None:  # fmt: skip
    path = (*base, "case")
    if not isinstance(spec, list) or not spec:
        problems.add(doc, path, "case is a list of {when: <condition>, then: <value>}")
        return None
    whens = []
    for j, item in enumerate(spec):
        if not isinstance(item, Mapping) or set(item) != {"when", "then"}:
            problems.add(doc, (*path, j), "each case item is {when: <condition>, then: <value>}")
            return None
        if not isinstance(item["when"], str):
            problems.add(doc, (*path, j, "when"), "when is a condition in quotes")
            return None
        whens.append((item["when"], item["then"]))
    return Case(tuple(whens), otherwise)


def load_tag_file(path: Path, *, builtin: bool = False) -> tuple[list[TagDef], list[str]]:
    """Tags of one file and the problems found (file / line / field)."""
    doc = load_located(path)
    problems = _Problems()
    data = doc.data
    if data is None:
        return [], []
    if not isinstance(data, Mapping) or not isinstance(data.get("tags"), list):
        problems.add(doc, (), "a tag file is a mapping with a list under 'tags:'")
        return [], problems.items
    for key in data:
        if key != "tags":
            problems.add(doc, (str(key),), "unknown key; a tag file holds 'tags:' only")
    tags = []
    for i, raw in enumerate(data["tags"]):
        if isinstance(raw, Mapping) and raw.get("enabled") is False:
            continue
        tag = _parse_tag(doc, i, raw, problems, builtin)
        if tag is not None:
            tags.append(tag)
    return tags, problems.items


def load_tags(files: Iterable[Path], builtin_files: Iterable[Path] = ()) -> list[TagDef]:
    """Built-in tags, then the workspace's (replacing built-ins of the same name). Raises
    :class:`DefinitionError` listing every problem in every file."""
    tags, problems, _ = collect_tags(files, builtin_files)
    if problems:
        raise DefinitionError(problems, what="tag definitions")
    return tags


def collect_tags(
    files: Iterable[Path], builtin_files: Iterable[Path] = ()
) -> tuple[list[TagDef], list[str], set[str]]:
    """(valid tags, problems, names of tags that had problems) — so checks of the valid tags
    can run too and every problem is reported at once."""
    problems: list[str] = []
    broken: set[str] = set()
    by_name: dict[str, TagDef] = {}
    for files_, builtin in ((builtin_files, True), (files, False)):
        seen_here: dict[str, TagDef] = {}
        for path in files_:
            tags, found = load_tag_file(path, builtin=builtin)
            problems.extend(found)
            if found:
                broken |= _names_in(path)
            for tag in tags:
                if tag.name in seen_here:
                    first = seen_here[tag.name]
                    problems.append(f"{tag.where('name')}: field 'name': tag '{tag.name}' is "
                                    f"already defined at {first.where('name')}")  # fmt: skip
                    continue
                seen_here[tag.name] = tag
                by_name[tag.name] = tag
    return list(by_name.values()), problems, broken - set(by_name)


def _names_in(path: Path) -> set[str]:
    try:
        doc = load_located(path)
    except Exception:
        return set()
    items = doc.data.get("tags") if isinstance(doc.data, Mapping) else None
    return {str(t["name"]) for t in items or [] if isinstance(t, Mapping) and "name" in t}
