"""API keys: how systems and users authenticate to the REST API.

A key reads ``lsk_<prefix>_<secret>``: ``prefix`` (8 hex digits) is public, shown in listings
and used to find the row; ``secret`` is 32 random bytes (256 bits, URL-safe base64) shown once,
at creation, and never stored. The store keeps ``sha256(key)``.

Why SHA-256 and not a password KDF (scrypt, Argon2): a KDF makes guessing a *low-entropy*
password expensive. These secrets are machine-generated with 256 bits of entropy, so guessing
one from a leaked hash is infeasible at any hashing speed, and a slow KDF would only add tens of
milliseconds to every request (the real-time decide budget is 10 ms at p99). Hashes are
compared with :func:`hmac.compare_digest` (constant time). User passwords, when the console
brings them, get a real KDF.

>>> # key, secret = create_key(store, "app-backend", Role.DECISIONING, actor="admin")
>>> # authenticate(store, secret).role
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lodestar.errors import ConfigError, NotFound
from lodestar.security.permissions import Role
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import api_keys

KEY_PREFIX = "lsk_"
_NAME = re.compile(r"[\w.:@-]{1,64}")
_TOKEN = re.compile(r"lsk_(?P<prefix>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{43})")
#: compared against when no row has the prefix, so a miss costs what a hit costs
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        """What listings show (never the secret, which is not kept)."""
        return {"id": self.id, "name": self.name, "prefix": f"{KEY_PREFIX}{self.prefix}",
                "role": self.role.value, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "revoked_by": self.revoked_by}  # fmt: skip


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ConfigError(f"unknown role '{role}'",
                          hint="one of: " + ", ".join(r.value for r in Role)) from None  # fmt: skip


def create_key(store: OperationalStore, name: str, role: Role | str, *,
               actor: str) -> tuple[ApiKey, str]:  # fmt: skip
    """A new key for ``name`` with ``role``: the stored record and the full key, which is
    shown to the caller once and not kept (audited as ``apikey.create``)."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"'{name}' is not a valid key name: letters, digits and _ . : @ - "
                          "only, up to 64")  # fmt: skip
    chosen = parse_role(role)
    now = datetime.now(UTC)
    with store.begin() as conn:
        while True:  # a prefix collision (1 in 4 billion per existing key) just draws again
            prefix = secrets.token_hex(4)
            taken = conn.execute(sa.select(api_keys.c.id).where(api_keys.c.prefix == prefix))
            if taken.first() is None:
                break
        token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        result = conn.execute(sa.insert(api_keys).values(
            name=name, prefix=prefix, secret_hash=hash_key(token), role=chosen.value,
            created_at=now, created_by=actor))  # fmt: skip
        key = ApiKey(int(result.inserted_primary_key[0]), name, prefix, chosen, now, actor)  # type: ignore[index]
        store.audit(conn, actor=actor, action="apikey.create", entity="api_key",
                    entity_id=str(key.id), after={"name": name, "role": chosen.value,
                                                  "prefix": prefix})  # fmt: skip
    return key, token


def list_keys(store: OperationalStore, *, include_revoked: bool = True) -> list[ApiKey]:
    q = sa.select(api_keys).order_by(api_keys.c.id)
    if not include_revoked:
        q = q.where(api_keys.c.revoked_at.is_(None))
    with store.engine.connect() as conn:
        return [_key(r) for r in conn.execute(q).mappings()]


def revoke_key(store: OperationalStore, key_id: int, *, actor: str) -> ApiKey:
    """Revoke key ``key_id`` at once (audited as ``apikey.revoke``); revoking a revoked key
    changes nothing."""
    now = datetime.now(UTC)
    with store.begin() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        if row is None:
            raise NotFound(f"no API key with id {key_id}", hint="lodestar apikey list")
        before = _key(row)
        if not before.active:
            return before
        conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id)
                     .values(revoked_at=now, revoked_by=actor))  # fmt: skip
        store.audit(conn, actor=actor, action="apikey.revoke", entity="api_key",
                    entity_id=str(key_id), before={"name": before.name, "role": before.role.value},
                    after={"revoked_at": now.isoformat()})  # fmt: skip
    return ApiKey(before.id, before.name, before.prefix, before.role, before.created_at,
                  before.created_by, now, actor)  # fmt: skip


_BY_PREFIX = sa.select(api_keys).where(api_keys.c.prefix == sa.bindparam("prefix"))


def authenticate(store: OperationalStore, token: str) -> ApiKey | None:
    """The active key ``token`` is, else None (malformed, unknown, wrong secret or revoked)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(_BY_PREFIX, {"prefix": match["prefix"]}).mappings().first()
    stored = row["secret_hash"] if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored, hash_key(token)) or row is None:
        return None
    key = _key(row)
    return key if key.active else None


def _key(row: Any) -> ApiKey:
    return ApiKey(int(row["id"]), row["name"], row["prefix"], Role(row["role"]),
                  _aware(row["created_at"]), row["created_by"], _aware(row["revoked_at"]),
                  row["revoked_by"])  # fmt: skip


def _aware(value: datetime | None) -> Any:
    # SQLite returns naive datetimes (stored as UTC text)
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
