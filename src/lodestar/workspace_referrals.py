"""The referrals half of the :class:`~lodestar.workspace.Workspace` facade: the programme
(``referrals.yaml``), codes and links, attribution, processing the event feed, review, funnel,
leaderboard and cost (:mod:`lodestar.campaigns.referrals`). Kept apart so ``workspace.py`` stays
readable.

The fraud rules compare customers' phones, ID numbers and devices: this mixin reads them from
the analytical store (``customers``, ``identities`` of type ``device_id``) and hands the engine
only their digests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodestar.errors import ConfigError
from lodestar.security.actors import local_actor as _actor

if TYPE_CHECKING:
    from lodestar.campaigns.referrals.engine import (
        Referral,
        ReferralEngine,
        ReferralEvent,
        Summary,
    )
    from lodestar.campaigns.referrals.fingerprints import Fingerprint
    from lodestar.campaigns.referrals.programme import Programme
    from lodestar.campaigns.referrals.reporting import FunnelRow
    from lodestar.reports.html import Section

REFERRALS_FILE = "referrals.yaml"
#: the key of the workspace's identity digests (fraud rules); never in the operational store
FINGERPRINT_KEY_FILE = "secrets/fingerprint.key"


class ReferralsMixin:
    root: Path
    ops: Any
    config: Any
    query: Any  # Workspace.query
    rights_catalogue: Any  # RightsMixin

    # -- configuration ------------------------------------------------------------------------
    def init_referrals(self, *, overwrite: bool = False, actor: str | None = None) -> list[Path]:
        """Copy the example referral programme into the workspace (rights.yaml too, whose
        rights it rewards, if the workspace has none)."""
        from lodestar.workspace_examples import copy_examples

        written = copy_examples(self.ops, self.root, "lodestar.campaigns.rights",
                                ("rights.yaml",), action="rights.init",
                                actor=actor or _actor())  # fmt: skip
        return written + copy_examples(self.ops, self.root, "lodestar.campaigns.referrals",
                                       (REFERRALS_FILE,), action="referrals.init",
                                       actor=actor or _actor(), overwrite=overwrite)  # fmt: skip

    def referral_programme(self, path: str | Path | None = None) -> Programme:
        from lodestar.campaigns.referrals.programme import Programme

        source = Path(path) if path is not None else self.root / REFERRALS_FILE
        if not source.is_file():
            raise ConfigError(f"no {REFERRALS_FILE} at {source}",
                              hint="lodestar referral init writes the example programme into "
                                   "the workspace; edit it to your campaign")  # fmt: skip
        return Programme.from_yaml(source)

    def referral_engine(self, path: str | Path | None = None, *,
                        actor: str | None = None) -> ReferralEngine:  # fmt: skip
        """The engine of the workspace's programme, rewarding through its rights catalogue."""
        from lodestar.campaigns.referrals.engine import ReferralEngine

        programme = self.referral_programme(path)
        catalogue = self.rights_catalogue() if programme.right_ids else None
        return ReferralEngine(self.ops, programme, catalogue, identities=self._fingerprints,
                              time_zone=self.config.default_time_zone,
                              actor=actor or _actor(),
                              fingerprint_key=self.fingerprint_key())  # fmt: skip

    def fingerprint_key(self) -> bytes:
        """The workspace's key for identity digests: ``LODESTAR_FINGERPRINT_KEY`` (hex), else
        ``secrets/fingerprint.key`` in the workspace, made once with 32 random bytes (owner
        read-only). Keep it with the workspace: digests made with another key match nothing."""
        import os
        import secrets

        env = os.environ.get("LODESTAR_FINGERPRINT_KEY")
        if env:
            try:
                return bytes.fromhex(env)
            except ValueError:
                raise ConfigError("LODESTAR_FINGERPRINT_KEY is not hexadecimal",
                                  hint="e.g. python -c 'import secrets; "
                                       "print(secrets.token_hex(32))'") from None  # fmt: skip
        path = self.root / FINGERPRINT_KEY_FILE
        if not path.exists():
            path.parent.mkdir(mode=0o700, exist_ok=True)
            # written aside, then linked into place: link fails if another process was first,
            # and nobody ever reads a half-written key
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_hex(32), encoding="ascii")
            tmp.chmod(0o400)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return bytes.fromhex(path.read_text(encoding="ascii").strip())

    def _fingerprints(self, customer_ids: Sequence[str]) -> dict[str, Fingerprint]:
        """Phones, ID numbers and devices of these customers, hashed at once."""
        from lodestar.campaigns.referrals.fingerprints import fingerprint

        key = self.fingerprint_key()
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        people = self.query(f"SELECT customer_id, phone, id_number FROM customers "
                            f"WHERE customer_id IN ({marks})", ids).to_pylist()  # fmt: skip
        devices: dict[str, list[str]] = {}
        for row in self.query(f"SELECT customer_id, id_value FROM identities WHERE id_type = "
                              f"'device_id' AND customer_id IN ({marks})", ids).to_pylist():  # fmt: skip
            devices.setdefault(row["customer_id"], []).append(row["id_value"])
        for row in self.query(f"SELECT DISTINCT customer_id, anonymous_id FROM events WHERE "
                              f"anonymous_id IS NOT NULL AND customer_id IN ({marks}) LIMIT 1000",
                              ids).to_pylist():  # fmt: skip
            devices.setdefault(row["customer_id"], []).append(row["anonymous_id"])
        found = {r["customer_id"]: r for r in people}
        return {c: fingerprint(c, phone=(found.get(c) or {}).get("phone"),
                               id_number=(found.get(c) or {}).get("id_number"),
                               devices=devices.get(c, ()), key=key)
                for c in ids if c in found or c in devices}  # fmt: skip

    # -- operations ---------------------------------------------------------------------------
    def referral_code(self, customer_id: str) -> str:
        return self.referral_engine().code_for(customer_id)

    def referral_link(self, customer_id: str) -> str:
        return self.referral_engine().link_for(customer_id)

    def attribute_referral(self, referee_id: str, code: str, *, at: datetime | None = None,
                           actor: str | None = None) -> Referral | None:  # fmt: skip
        """Attribute a referee who typed ``code`` (at registration) — unless an earlier touch
        in the window already made someone else their referrer."""
        return self.referral_engine(actor=actor).attribute(
            referee_id, at=at or datetime.now(UTC), code=code)  # fmt: skip

    def process_referrals(self, *, limit: int = 10_000, actor: str | None = None) -> Summary:
        """Advance referrals with the event feed's new events (from the programme's cursor)."""
        return self.referral_engine(actor=actor).process(limit=limit)

    def handle_referral_events(self, events: Iterable[ReferralEvent], *,
                               actor: str | None = None) -> Summary:  # fmt: skip
        return self.referral_engine(actor=actor).handle(events)

    def referral_flags(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        from lodestar.campaigns.referrals.review import flags

        return flags(self.referral_engine(), open_only=open_only)

    def review_referral(self, referral_id: int, decision: str, *, note: str | None = None,
                        actor: str | None = None) -> dict[str, Any]:  # fmt: skip
        from lodestar.campaigns.referrals.review import review

        who = actor or _actor()
        return review(self.referral_engine(actor=who), referral_id, decision, reviewer=who,
                      note=note)  # fmt: skip

    # -- reporting ----------------------------------------------------------------------------
    def referral_funnel(self) -> list[FunnelRow]:
        from lodestar.campaigns.referrals.reporting import funnel

        return funnel(self.referral_engine())

    def referral_leaderboard(self, *, top: int = 20) -> list[dict[str, Any]]:
        """Top referrers with masked names (from the customers table, when loaded)."""
        from lodestar.campaigns.referrals.reporting import leaderboard

        engine = self.referral_engine()
        board = leaderboard(engine, top=top)
        ids = [r["referrer_id"] for r in board]
        if not ids:
            return board
        marks = ", ".join("?" for _ in ids)
        names = {r["customer_id"]: r["name"] for r in self.query(
            f"SELECT customer_id, name FROM customers WHERE customer_id IN ({marks})",
            ids).to_pylist() if r["name"]}  # fmt: skip
        return leaderboard(engine, top=top, names=names)

    def referral_costs(self) -> dict[str, Any]:
        from lodestar.campaigns.referrals.reporting import costs

        return costs(self.referral_engine())

    def referral_section(self, locale: str = "zh-CN") -> Section:
        """The report section: funnel chart, leaderboard and cost against budget."""
        from lodestar.reports.referrals_section import referrals_section

        programme = self.referral_programme()
        name = programme.name.zh if locale == "zh-CN" else programme.name.en
        return referrals_section(name, self.referral_funnel(), self.referral_leaderboard(top=10),
                                 self.referral_costs(), locale)  # fmt: skip
