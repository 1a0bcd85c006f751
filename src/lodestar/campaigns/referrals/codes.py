"""Referral codes and links: one code per customer and programme, random (nobody can guess a
valid one), stable (asked again, the same code), unique across programmes.

>>> link_with_code("https://m.bank.example/mgm?from=poster", "ref", "LQ7KX2M9QD")
'https://m.bank.example/mgm?from=poster&ref=LQ7KX2M9QD'
"""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns.referrals.programme import ALPHABET, Programme
from lodestar.storage.operational_tables import referral_codes


def new_code(programme: Programme) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(programme.code.length))
    return programme.code.prefix + body


def code_of(conn: Connection, programme_id: str, customer_id: str) -> str | None:
    return conn.execute(sa.select(referral_codes.c.code)
                        .where(referral_codes.c.programme_id == programme_id)
                        .where(referral_codes.c.customer_id == customer_id)).scalar()  # fmt: skip


def ensure_code(conn: Connection, programme: Programme, customer_id: str, at: datetime) -> str:
    """The customer's code, created if new. The caller holds the programme's lock, so two
    callers never create two codes for one customer."""
    existing = code_of(conn, programme.programme, customer_id)
    if existing is not None:
        return existing
    while True:
        code = new_code(programme)
        taken = conn.execute(sa.select(referral_codes.c.code)
                             .where(referral_codes.c.code == code)).first()  # fmt: skip
        if taken is None:
            break
    conn.execute(sa.insert(referral_codes).values(code=code, programme_id=programme.programme,
                                                  customer_id=customer_id, created_at=at))  # fmt: skip
    return code


def owner_of(conn: Connection, programme_id: str, code: str) -> str | None:
    """The customer whose code it is in this programme (codes are matched case-blind)."""
    return conn.execute(sa.select(referral_codes.c.customer_id)
                        .where(referral_codes.c.programme_id == programme_id)
                        .where(referral_codes.c.code == code.strip().upper())).scalar()  # fmt: skip


def link_with_code(base: str, parameter: str, code: str) -> str:
    """``base`` with ``parameter=code`` added to its query (other parameters kept)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != parameter]
    query.append((parameter, code))
    return urlunsplit(parts._replace(query=urlencode(query)))
