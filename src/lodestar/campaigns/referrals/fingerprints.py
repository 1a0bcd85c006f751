"""Identity fingerprints of a customer — phone, ID number, devices — as keyed digests
(HMAC-SHA-256).

The fraud rules compare customers by these digests and store only them (and their first 12
hex digits as evidence): a reviewer sees that two referrals share a phone, never the phone.
Values are normalised first so ``138-1234-5678`` and ``+86 13812345678`` match. The digest is
keyed because an unkeyed hash of a phone number is no protection (China's mobile numbers are
about 10^9: a GPU tries them all in seconds); a workspace keeps its own key
(:meth:`lodestar.workspace_referrals.ReferralsMixin.fingerprint_key`), and without it the
digests cannot be reversed by trying numbers.

>>> a = fingerprint("C1", phone="+86 138-1234-5678", id_number="11010119900307123x")
>>> b = fingerprint("C2", phone="13812345678")
>>> a.phone == b.phone and a.phone != fingerprint("C3", phone="13900000000").phone
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

#: The key of tests and examples only; a workspace uses its own random key.
DEMO_KEY = b"lodestar-referrals-demo-key"


def digest(kind: str, value: str, key: bytes = DEMO_KEY) -> str:
    """The keyed digest of a normalised value (``kind``: phone, id_number, device)."""
    message = kind.encode() + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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

    def with_devices(self, devices: Iterable[str], key: bytes = DEMO_KEY) -> Fingerprint:
        extra = {digest("device", d, key) for d in devices if d}
        return Fingerprint(self.customer_id, self.phone, self.id_number, self.devices | extra)


def fingerprint(customer_id: str, *, phone: str | None = None, id_number: str | None = None,
                devices: Iterable[str] = (), key: bytes = DEMO_KEY) -> Fingerprint:  # fmt: skip
    """A customer's fingerprint from raw values (which are hashed here and not kept)."""
    p = _phone(phone) if phone else None
    i = _id_number(id_number) if id_number else None
    return Fingerprint(customer_id, digest("phone", p, key) if p else None,
                       digest("id_number", i, key) if i else None,
                       frozenset(digest("device", d, key) for d in devices if d))  # fmt: skip


#: Fingerprints of customers by id (those it knows); the workspace reads the customers' phones
#: and ID numbers and their device identities from the analytical store.
IdentityLookup = Callable[[Sequence[str]], dict[str, Fingerprint]]


def no_identities(customer_ids: Sequence[str]) -> dict[str, Fingerprint]:
    """A lookup that knows nothing (devices still come from the event feed)."""
    return {}


def short(d: str) -> str:
    """What evidence shows of a digest."""
    return d[:12]
