"""`lodestar tags ...`: list, check, build and inspect the declarative tags."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.main import WorkspaceOption, app, console, locale, open_workspace, progress_bar

tags_app = typer.Typer(help="Declarative customer tags (built-in library + tags/*.yaml).",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(tags_app, name="tags")

EXAMPLE = """\
# Your own tags. Each needs a name, a type (boolean, category, number) and one definition:
# aggregate (over transactions / events / holdings / complaints / surveys / campaign_contacts),
# expr (over customer columns and other tags), attribute, bands or case. See docs/tags.md.
tags:
  - name: big_spender_90d
    label: {zh-CN: 近90天大额消费客户, en: Big spender (90 days)}
    description: Card spend of 20,000 CNY or more in the last 90 days.
    owner: my-team
    group: custom
    type: boolean
    expr: "card_spend_90d >= 20000"
"""


def _zh(loc: str) -> bool:
    return loc == "zh-CN"


@tags_app.command("list")
def list_(
    group: Annotated[str | None, typer.Option(help="Only this group (theme).")] = None,
    stats: Annotated[
        bool, typer.Option(help="Add coverage / distribution (needs a build).")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Every tag: name, type, label, group, where it is defined."""
    from rich.table import Table

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        plan = ws.check_tags()
        chosen = [c.tag for c in plan.tags.values() if group is None or c.tag.group == group]
        figures = {s.name: s for s in ws.tag_stats([t.name for t in chosen])} if stats else {}
        zh = _zh(loc)
        table = Table(title=f"{len(chosen)} {'个标签' if zh else 'tags'}")
        table.add_column("标签" if zh else "tag", no_wrap=True)  # names are what users type
        table.add_column("类型" if zh else "type", no_wrap=True)
        table.add_column("名称" if zh else "label")
        table.add_column("分组" if zh else "group")
        table.add_column("来源" if zh else "source", overflow="fold")
        if stats:
            table.add_column("分布" if zh else "distribution")
        for tag in chosen:
            row = [tag.name, tag.type, tag.label(loc), tag.group,
                   "内置" if tag.builtin and zh else ("built-in" if tag.builtin else tag.source)]  # fmt: skip
            if stats:
                row.append(_distribution(figures.get(tag.name)))
            table.add_row(*row)
        console().print(table)


def _distribution(s: object) -> str:
    from lodestar.profile.tag_summary import TagStats

    if not isinstance(s, TagStats):
        return ""
    if s.share_true is not None:
        return f"{s.share_true:.1%} true"
    if s.quantiles:
        q = s.quantiles

        def f(v: float | None) -> str:
            return "-" if v is None else f"{v:,.4g}"

        return f"p10 {f(q['p10'])} · p50 {f(q['p50'])} · p90 {f(q['p90'])}"
    return ", ".join(f"{v} {k:,}" for v, k in s.top_values[:4])


@tags_app.command("check")
def check(workspace: WorkspaceOption = None) -> None:
    """Validate every tag file (names, types, windows, cycles) without building."""
    with open_workspace(workspace) as ws:
        plan = ws.check_tags()
        loc = locale(ws)
        n = len(plan.tags)
        console().print(
            f"{n} 个标签定义均有效" if _zh(loc) else f"all {n} tag definitions are valid"
        )


@tags_app.command("build")
def build(
    full: Annotated[bool, typer.Option(help="Rebuild every tag for every customer.")] = False,
    as_of: Annotated[str | None, typer.Option(help="Point in time, YYYY-MM-DD.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Compute the tags into profile_tags (incremental after loads unless --full)."""
    with open_workspace(workspace) as ws:
        loc = locale(ws)
        with progress_bar(loc) as progress:
            result = ws.build_tags(full=full, as_of=date.fromisoformat(as_of) if as_of else None,
                                   progress=progress)  # fmt: skip
        zh = _zh(loc)
        mode = {"full": "全量" if zh else "full", "incremental": "增量" if zh else "incremental",
                "unchanged": "无变化" if zh else "unchanged"}[result.mode]  # fmt: skip
        touched = sum(1 for v in result.recomputed.values() if v)
        if zh:
            console().print(f"标签{mode}构建完成：{result.tags} 个标签，{result.customers:,} 位客户，"
                            f"数据日期 {result.as_of}，重算 {touched} 个标签，用时 {result.seconds:.1f} 秒"
                            + (f"（原因：{result.reason}）" if result.reason else ""))  # fmt: skip
        else:
            console().print(f"tags built ({mode}): {result.tags} tags, {result.customers:,} "
                            f"customers, as of {result.as_of}, {touched} tags recomputed, "
                            f"{result.seconds:.1f} s" + (f" ({result.reason})" if result.reason else ""))  # fmt: skip


@tags_app.command("show")
def show(name: str, workspace: WorkspaceOption = None) -> None:
    """One tag: definition, what it depends on, and its distribution."""
    from lodestar.errors import ConfigError

    with open_workspace(workspace) as ws:
        loc = locale(ws)
        plan = ws.check_tags()
        if name not in plan.tags:
            import difflib

            close = difflib.get_close_matches(name, list(plan.tags), n=3)
            raise ConfigError(f"no tag named '{name}'",
                              hint=f"did you mean {', '.join(close)}?" if close else "lodestar tags list")  # fmt: skip
        ct = plan.tags[name]
        tag = ct.tag
        out = console()
        out.print(f"[bold]{tag.name}[/bold] — {tag.label(loc)} ({tag.type}, {tag.group})")
        if tag.description:
            out.print(tag.description, markup=False)
        out.print(f"{'定义' if _zh(loc) else 'definition'} ({tag.kind}): {tag.definition}",
                  markup=False)  # fmt: skip
        out.print(f"{'位置' if _zh(loc) else 'defined at'}: {tag.where()}", markup=False)
        if ct.deps:
            out.print(f"{'依赖标签' if _zh(loc) else 'uses tags'}: {', '.join(ct.deps)}")
        out.print(f"{'读取' if _zh(loc) else 'reads'}: {', '.join(sorted(ct.reads)) or '-'}"
                  f"{' · 随数据日期变化' if _zh(loc) and ct.time_dependent else ''}"
                  f"{' · changes with the data date' if not _zh(loc) and ct.time_dependent else ''}")  # fmt: skip
        for s in ws.tag_stats([name]):
            out.print(f"{'分布' if _zh(loc) else 'distribution'}: {_distribution(s)} "
                      f"({s.non_null:,}/{s.customers:,} {'有值' if _zh(loc) else 'with a value'})")  # fmt: skip
            for value, k in s.top_values:
                out.print(f"  {tag.value_label(value, loc)}: {k:,}", markup=False)


@tags_app.command("new")
def new(
    file: Annotated[
        str, typer.Argument(help="File name under tags/, e.g. my_tags.yaml")
    ] = "custom.yaml",
    workspace: WorkspaceOption = None,
) -> None:
    """Write an example tag file into the workspace's tags/ folder to start from."""
    from lodestar.errors import ConfigError

    with open_workspace(workspace) as ws:
        target = ws.root / "tags" / Path(file).name
        if target.exists():
            raise ConfigError(f"{target} already exists", hint="choose another file name")
        target.parent.mkdir(exist_ok=True)
        target.write_text(EXAMPLE, encoding="utf-8")
        console().print(str(target), markup=False)
