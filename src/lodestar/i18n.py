"""User-facing text in zh-CN (the default) and English.

Messages are looked up by key and filled with named parameters. The language comes from the
caller (``--lang``), else ``LODESTAR_LANG``, else the workspace setting, else zh-CN.

>>> t("report.ok", "en", source="a.csv", rows=3, kind="customers")
'a.csv: 3 rows of customers, no problems'
>>> t("report.ok", "zh-CN", source="a.csv", rows=3, kind="customers")
'a.csv：customers 共 3 行，没有发现问题'
"""

from __future__ import annotations

import os
from typing import Any, Literal

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")
DEFAULT_LOCALE: Locale = "zh-CN"

_EN: dict[str, str] = {
    # validation messages, by message key
    "v.required": "a value is required",
    "v.type.integer": "expected a whole number",
    "v.type.float": "expected a number",
    "v.type.boolean": "expected true/false (or 1/0, yes/no)",
    "v.type.range": "the number is out of range for its type",
    "v.date.shape": "not a date (expected YYYY-MM-DD)",
    "v.date.real": "not a real calendar date",
    "v.date.format": "does not match the mapping's format {format}",
    "v.timestamp.shape": "not a timestamp (expected ISO 8601, e.g. 2026-05-01T09:30:00+08:00)",
    "v.timestamp.real": "not a real date and time",
    "v.timestamp.format": "does not match the mapping's format {format}",
    "v.enum": "not an allowed value; allowed: {allowed}",
    "v.range.min": "below the minimum {limit}",
    "v.range.max": "above the maximum {limit}",
    "v.pattern": "does not match the pattern {pattern}",
    "v.time_zone": "not an IANA time-zone name",
    "v.json": "not a JSON object",
    "v.one_of": "needs at least one of: {fields}",
    "v.scale": "score {score} is outside the {survey} scale",
    "v.date_order": "{end} is before {start}",
    "v.duplicate_key.line": "the key repeats the one at line {n}",
    "v.duplicate_key.row": "the key repeats the one at row {n}",
    "v.reference": "no {parent} row has {parent_column} = this value",
    "v.malformed_row": "expected {expected} fields, found {found}",
    "v.unreadable": "cannot read past this point: {error}",
    "v.unreadable.header": "the header repeats column(s) {columns}",
    "v.unreadable.parquet": "not a readable Parquet file: {error}",
    "v.unreadable.json": "not a JSON object: {error}",
    "v.empty_file": "the file has no data rows",
    "v.empty_file.blank": "the file is empty (no header, no rows)",
    "v.missing_column": "required column '{column}' is missing",
    "v.unknown_column": "column '{column}' is not a field of {kind}",
    # rule hints
    "hint.missing_column": "add the column, or map a source column to it in a mapping file",
    "hint.unknown_column": "map it to a canonical field, or list it under 'ignore' in a mapping",
    "hint.required": "give every row a value for this field",
    "hint.type": "write the value in the field's type (see docs/data-model.md)",
    "hint.timestamp": "use ISO 8601, e.g. 2026-05-01T09:30:00+08:00 (no offset: workspace zone)",
    "hint.date": "use ISO 8601 dates, e.g. 2026-05-01",
    "hint.enum": "use an allowed code, or translate source values with 'values' in a mapping",
    "hint.range": "check units and sign; allowed ranges are in docs/data-model.md",
    "hint.pattern": "identifiers are letters, digits and _ . : - (at most 64 characters)",
    "hint.time_zone": "use an IANA time-zone name such as Asia/Shanghai",
    "hint.json": 'write a JSON object, e.g. {"k": "v"}',
    "hint.one_of": "each row needs at least one of the listed fields",
    "hint.scale": "scales: nps 0-10, csat 1-5, ces 1-7",
    "hint.date_order": "an end date cannot be before its start date",
    "hint.duplicate_key": "each key may appear once per file; remove or merge the repeats",
    "hint.reference": "load the referenced rows first (e.g. customers before transactions)",
    "hint.malformed_row": "check quoting and delimiters on that line",
    "hint.unreadable": "the file is damaged, truncated or not in the stated format / encoding",
    "hint.empty_file": "check that the export finished and wrote rows",
    # report layout
    "report.ok": "{source}: {rows} rows of {kind}, no problems",
    "report.failed": "{source}: {total} problem(s) in {rows} rows of {kind}; nothing was written",
    "report.first": "first {n} problem(s):",
    "report.by_rule": "problems by rule:",
    "report.line": "line {n}",
    "report.row": "row {n}",
    "report.column": "column '{name}'",
    "report.value": "value {value}:",
    "report.empty": "(empty):",
    # CLI
    "cli.init.done": "Workspace ready at {path}",
    "cli.ingest.done": "Loaded {source}: {details} in {seconds:.1f}s (run {run_id})",
    "cli.ingest.same": "{source} was already loaded in run {run_id}; nothing to do "
    "(--force loads it again)",
    "cli.entity": "{entity}: {rows:,} rows ({inserted:,} new, {updated:,} replaced, "
    "{skipped:,} already present)",
    "cli.generate.start": "Generating a synthetic bank of {customers:,} customers (seed {seed})",
    "cli.progress.read": "Reading",
    "cli.progress.stage": "Generating and checking",
    "cli.progress.check": "Checking keys and references",
    "cli.progress.write": "Writing",
    "cli.status.title": "Workspace {path}",
    "cli.status.table": "table",
    "cli.status.rows": "rows",
    "cli.status.runs": "Recent loads",
    "cli.error": "Error",
    "cli.report.saved": "Report written to {path}",
    "cli.demo.done": "Demo finished in {seconds:.0f}s. Open {report}",
    "cli.demo.title": "The bank at a glance",
    "cli.demo.figure": "figure",
    "cli.demo.value": "value",
    "cli.demo.top20": "balances held by the top 20% of customers",
    "cli.demo.gini": "Gini of balances",
    "cli.demo.funnel": "lending funnel: register -> drawdown",
    "cli.demo.uplift": "{campaign}: observed / true uplift",
    "cli.demo.rfm": "RFM {group}: customers / value",
    # personas and life events (lodestar profile personas / life-events, report section)
    "personas.title": "Personas: {k} by {method}, as of {as_of}",
    "personas.persona": "persona",
    "personas.customers": "customers",
    "personas.share": "share",
    "personas.traits": "top traits",
    "personas.scores": "Choosing k ({metric}; * = chosen)",
    "personas.metric.silhouette": "mean silhouette, higher is better",
    "personas.metric.bic": "BIC, lower is better",
    "personas.score": "score",
    "personas.dropped": "Features left out: {items}",
    "personas.reason.all_null": "no values",
    "personas.reason.constant": "same for everyone",
    "personas.reason.not_requested": "not requested",
    "personas.saved": "Saved as table profile_personas for {customers:,} customers and the model "
    "in {path} ({seconds:.1f}s)",
    "personas.section": "Personas ({k}, {method}, as of {as_of})",
    "personas.sizes": "Customers per persona",
    "personas.heatmap": "How each persona differs from the average customer (standard deviations)",
    "personas.k_chart.silhouette": "Mean silhouette by number of personas (higher is better)",
    "personas.k_chart.bic": "BIC by number of personas (lower is better)",
    "life_events.title": "Life events as of {as_of} (upcoming: next {days} days; past: last "
    "{lookback} days)",
    "life_events.type": "event",
    "life_events.code": "code",
    "life_events.count": "events",
    "life_events.customers": "customers",
    "life_events.unsupported": "not in this data: {reason}",
    "life_events.examples": "Examples",
    "life_events.customer": "customer",
    "life_events.date": "date",
    "life_events.details": "details",
    "life_events.saved": "Saved {events:,} events as table life_events and per-customer columns "
    "as profile_life_events",
    "life_events.why.salary_change": "no salary, transfer_in or deposit credits",
    "life_events.why.large_inflow": "no transactions",
    "life_events.why.large_outflow": "no transactions",
    "life_events.why.deposit_maturity": "no deposit or wealth holding with a term",
    "life_events.why.loan_maturity": "no loan holding with a term",
    "life_events.why.repayment_due": "no card or loan holding with a balance",
    "life_events.why.card_anniversary": "no credit-card holdings",
    "life_events.why.birthday": "no customer has a birth date",
    "life_events.why.relocation": "no event carries a city (the data model keeps no city "
    "history)",
    "life_events.why.first_mortgage_payment": "no mortgages or no loan repayments",
    # end of personas and life events
}

_ZH: dict[str, str] = {
    "v.required": "必填字段为空",
    "v.type.integer": "应为整数",
    "v.type.float": "应为数字",
    "v.type.boolean": "应为 true/false（或 1/0、是/否）",
    "v.type.range": "数值超出该类型的范围",
    "v.date.shape": "不是日期（应为 YYYY-MM-DD）",
    "v.date.real": "不是真实存在的日期",
    "v.date.format": "与映射文件中的格式 {format} 不符",
    "v.timestamp.shape": "不是时间戳（应为 ISO 8601，例如 2026-05-01T09:30:00+08:00）",
    "v.timestamp.real": "不是真实存在的日期时间",
    "v.timestamp.format": "与映射文件中的格式 {format} 不符",
    "v.enum": "不是允许的取值；允许：{allowed}",
    "v.range.min": "小于最小值 {limit}",
    "v.range.max": "大于最大值 {limit}",
    "v.pattern": "不符合格式 {pattern}",
    "v.time_zone": "不是 IANA 时区名称",
    "v.json": "不是 JSON 对象",
    "v.one_of": "以下字段至少需要一个：{fields}",
    "v.scale": "得分 {score} 超出 {survey} 量表范围",
    "v.date_order": "{end} 早于 {start}",
    "v.duplicate_key.line": "主键与第 {n} 行重复",
    "v.duplicate_key.row": "主键与第 {n} 条记录重复",
    "v.reference": "{parent} 中没有 {parent_column} 等于该值的记录",
    "v.malformed_row": "应有 {expected} 个字段，实际 {found} 个",
    "v.unreadable": "无法继续读取：{error}",
    "v.unreadable.header": "表头中列名重复：{columns}",
    "v.unreadable.parquet": "不是可读取的 Parquet 文件：{error}",
    "v.unreadable.json": "不是 JSON 对象：{error}",
    "v.empty_file": "文件中没有数据行",
    "v.empty_file.blank": "文件为空（没有表头，也没有数据）",
    "v.missing_column": "缺少必填列 '{column}'",
    "v.unknown_column": "列 '{column}' 不是 {kind} 的字段",
    "hint.missing_column": "请补充该列，或在映射文件中把源列映射到该字段",
    "hint.unknown_column": "请在映射文件中把它映射到标准字段，或列入 ignore",
    "hint.required": "每一行都需要填写该字段",
    "hint.type": "请按字段类型填写（见 docs/data-model.md）",
    "hint.timestamp": "请使用 ISO 8601，例如 2026-05-01T09:30:00+08:00（无时区偏移按工作区时区）",
    "hint.date": "请使用 ISO 8601 日期，例如 2026-05-01",
    "hint.enum": "请使用允许的代码，或在映射文件中用 values 转换源值",
    "hint.range": "请检查单位和正负号；允许范围见 docs/data-model.md",
    "hint.pattern": "标识符只能包含字母、数字和 _ . : -（最多 64 个字符）",
    "hint.time_zone": "请使用 IANA 时区名称，例如 Asia/Shanghai",
    "hint.json": '请填写 JSON 对象，例如 {"k": "v"}',
    "hint.one_of": "每行至少需要其中一个字段",
    "hint.scale": "量表：NPS 0-10，CSAT 1-5，CES 1-7",
    "hint.date_order": "结束日期不能早于开始日期",
    "hint.duplicate_key": "同一文件中每个主键只能出现一次，请删除或合并重复行",
    "hint.reference": "请先导入被引用的数据（例如先导入客户，再导入交易）",
    "hint.malformed_row": "请检查该行的引号和分隔符",
    "hint.unreadable": "文件已损坏、被截断，或格式/编码与声明不符",
    "hint.empty_file": "请确认导出已完成并写入了数据",
    "report.ok": "{source}：{kind} 共 {rows} 行，没有发现问题",
    "report.failed": "{source}：{kind} 共 {rows} 行，发现 {total} 个问题；未写入任何数据",
    "report.first": "前 {n} 个问题：",
    "report.by_rule": "按规则统计：",
    "report.line": "第 {n} 行",
    "report.row": "第 {n} 条记录",
    "report.column": "列 '{name}'",
    "report.value": "值 {value}：",
    "report.empty": "（空值）：",
    "cli.init.done": "工作区已就绪：{path}",
    "cli.ingest.done": "已导入 {source}：{details}，用时 {seconds:.1f} 秒（批次 {run_id}）",
    "cli.ingest.same": "{source} 已在批次 {run_id} 中导入，无需重复导入（--force 可强制重新导入）",
    "cli.entity": "{entity}：{rows:,} 行（新增 {inserted:,}，替换 {updated:,}，"
    "已存在 {skipped:,}）",
    "cli.generate.start": "正在生成模拟银行：{customers:,} 位客户（随机种子 {seed}）",
    "cli.progress.read": "读取中",
    "cli.progress.stage": "生成并校验中",
    "cli.progress.check": "校验主键与引用",
    "cli.progress.write": "写入中",
    "cli.status.title": "工作区 {path}",
    "cli.status.table": "数据表",
    "cli.status.rows": "行数",
    "cli.status.runs": "最近的导入批次",
    "cli.error": "错误",
    "cli.report.saved": "报告已写入 {path}",
    "cli.demo.done": "演示完成，用时 {seconds:.0f} 秒。请打开 {report}",
    "cli.demo.title": "银行概览",
    "cli.demo.figure": "指标",
    "cli.demo.value": "数值",
    "cli.demo.top20": "前 20% 客户持有的余额占比",
    "cli.demo.gini": "余额基尼系数",
    "cli.demo.funnel": "信贷漏斗：注册 -> 提款 转化率",
    "cli.demo.uplift": "{campaign}：观测增量 / 真实增量",
    "cli.demo.rfm": "RFM {group}：客户占比 / 金额占比",
    # personas and life events (lodestar profile personas / life-events, report section)
    "personas.title": "客群画像：{method} 聚类得到 {k} 个客群（截至 {as_of}）",
    "personas.persona": "客群",
    "personas.customers": "客户数",
    "personas.share": "占比",
    "personas.traits": "主要特征",
    "personas.scores": "客群数的选择（{metric}；* 为选中）",
    "personas.metric.silhouette": "平均轮廓系数，越高越好",
    "personas.metric.bic": "BIC，越低越好",
    "personas.score": "得分",
    "personas.dropped": "未使用的特征：{items}",
    "personas.reason.all_null": "无数据",
    "personas.reason.constant": "所有客户取值相同",
    "personas.reason.not_requested": "未选用",
    "personas.saved": "已为 {customers:,} 位客户保存到表 profile_personas，模型保存在 {path}"
    "（用时 {seconds:.1f} 秒）",
    "personas.section": "客群画像（{k} 个，{method}，截至 {as_of}）",
    "personas.sizes": "各客群客户数",
    "personas.heatmap": "各客群与全体客户的差异（标准差）",
    "personas.k_chart.silhouette": "不同客群数的平均轮廓系数（越高越好）",
    "personas.k_chart.bic": "不同客群数的 BIC（越低越好）",
    "life_events.title": "客户生命事件（截至 {as_of}；未来 {days} 天内到期的事件，过去 {lookback} 天内发生的事件）",
    "life_events.type": "事件",
    "life_events.code": "代码",
    "life_events.count": "事件数",
    "life_events.customers": "客户数",
    "life_events.unsupported": "当前数据无法识别：{reason}",
    "life_events.examples": "示例",
    "life_events.customer": "客户",
    "life_events.date": "日期",
    "life_events.details": "详情",
    "life_events.saved": "已将 {events:,} 条事件保存到表 life_events，客户级字段保存到 profile_life_events",
    "life_events.why.salary_change": "没有代发工资、转入或存入交易",
    "life_events.why.large_inflow": "没有交易数据",
    "life_events.why.large_outflow": "没有交易数据",
    "life_events.why.deposit_maturity": "没有带期限的存款或理财持仓",
    "life_events.why.loan_maturity": "没有带期限的贷款持仓",
    "life_events.why.repayment_due": "没有有余额的信用卡或贷款",
    "life_events.why.card_anniversary": "没有信用卡持仓",
    "life_events.why.birthday": "客户没有出生日期",
    "life_events.why.relocation": "行为事件中没有城市信息（数据模型不保存城市变更历史）",
    "life_events.why.first_mortgage_payment": "没有房贷或没有贷款还款交易",
    # end of personas and life events
}

CATALOGUES: dict[str, dict[str, str]] = {"en": _EN, "zh-CN": _ZH}


def resolve_locale(explicit: str | None = None, workspace: str | None = None) -> Locale:
    for candidate in (explicit, os.environ.get("LODESTAR_LANG"), workspace):
        if candidate:
            norm = "zh-CN" if candidate.lower().replace("_", "-").startswith("zh") else "en"
            if candidate.lower().startswith(("zh", "en")):
                return norm  # type: ignore[return-value]
    return DEFAULT_LOCALE


def t(key: str, locale: str = DEFAULT_LOCALE, **params: Any) -> str:
    """The message ``key`` in ``locale`` (falling back to English, then to the key)."""
    template = CATALOGUES.get(locale, _EN).get(key) or _EN.get(key) or key
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
