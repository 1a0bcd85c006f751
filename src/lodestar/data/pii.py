"""Masking of personal data (name, phone, ID number, e-mail, third-party ids).

Reports, logs and (later) API responses for roles without the unmask permission show masked
values only.

>>> mask("13812345678", Pii.PHONE)
'138****5678'
>>> mask("张三丰", Pii.NAME)
'张**'
>>> mask("110101199003071234", Pii.ID_NUMBER)
'110***********1234'
>>> mask("wang.li@example.cn", Pii.EMAIL)
'w***@example.cn'
"""

from __future__ import annotations

from lodestar.data.schema import Pii


def mask(value: str | None, kind: Pii) -> str | None:
    if value is None or kind is Pii.NONE:
        return value
    text = str(value)
    if kind is Pii.NAME:
        return text[:1] + "*" * max(1, len(text) - 1)
    if kind is Pii.EMAIL and "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind is Pii.PHONE and len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if kind is Pii.ID_NUMBER and len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    # Short or unknown shapes: keep only the length visible.
    return "*" * len(text)
