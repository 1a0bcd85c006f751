"""Identity fingerprints of a customer — phone, ID number, devices — as salted SHA-256 digests.

The fraud rules compare customers by these digests and store only them (and their first 12
hex digits as evidence): a reviewer sees that two referrals share a phone, never the phone.
Values are normalised first so ``138-1234-5678`` and ``+86 13812345678`` match.

>>> a = fingerprint("C1", phone="+86 138-1234-5678", id_number="11010119900307123x")
>>> b = fingerprint("C2", phone="13812345678")
>>> a.phone == b.phone and a.phone != fingerprint("C3", phone="13900000000").phone
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

_SALT = b"lodestar-referrals\x00"


def digest(kind: str, value: str) -> str:
    """The salted digest of a normalised value (``kind``: phone, id_number, device)."""
    return hashlib.sha256(_SALT + kind.encode() + b"\x00" + value.encode("utf-8")).hexdigest()


def _phone(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]  # China's country code
    return digits or None


def _id_number(value: str) -> str | None:
    text = re.sub(r"\s", "", value).upper()
    return text or None


@dataclass(frozen=True)
class Fingerprint:
    customer_id: str
    phone: str | None = None
    id_number: str | None = None
    devices: frozenset[str] = field(default_factory=frozenset)

    def items(self) -> list[tuple[str, str]]:
        """(kind, digest) pairs, the rows kept for a referee."""
        pairs = [("phone", self.phone), ("id_number", self.id_number)]
        return [(k, d) for k, d in pairs if d] + [("device", d) for d in sorted(self.devices)]

    def with_devices(self, devices: Iterable[str]) -> Fingerprint:
        extra = {digest("device", d) for d in devices if d}
        return Fingerprint(self.customer_id, self.phone, self.id_number, self.devices | extra)


def fingerprint(customer_id: str, *, phone: str | None = None, id_number: str | None = None,
                devices: Iterable[str] = ()) -> Fingerprint:  # fmt: skip
    """A customer's fingerprint from raw values (which are hashed here and not kept)."""
    p = _phone(phone) if phone else None
    i = _id_number(id_number) if id_number else None
    return Fingerprint(customer_id, digest("phone", p) if p else None,
                       digest("id_number", i) if i else None,
                       frozenset(digest("device", d) for d in devices if d))  # fmt: skip


#: Fingerprints of customers by id (those it knows); the workspace reads the customers' phones
#: and ID numbers and their device identities from the analytical store.
IdentityLookup = Callable[[Sequence[str]], dict[str, Fingerprint]]


def no_identities(customer_ids: Sequence[str]) -> dict[str, Fingerprint]:
    """A lookup that knows nothing (devices still come from the event feed)."""
    return {}


def short(d: str) -> str:
    """What evidence shows of a digest."""
    return d[:12]
