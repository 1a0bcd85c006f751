"""The security half of the :class:`~lodestar.workspace.Workspace` facade: API keys
(:mod:`lodestar.security.api_keys`). Kept apart so ``workspace.py`` stays readable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodestar.security.api_keys import ApiKey
    from lodestar.security.permissions import Role


class SecurityMixin:
    ops: Any

    def create_api_key(self, name: str, role: Role | str, *,
                       actor: str | None = None) -> tuple[ApiKey, str]:  # fmt: skip
        """A new API key; returns its record and the full key, which is not stored anywhere
        and cannot be shown again."""
        from lodestar.security.actors import local_actor as _actor
        from lodestar.security.api_keys import create_key

        return create_key(self.ops, name, role, actor=actor or _actor())

    def api_keys(self, *, include_revoked: bool = True) -> list[ApiKey]:
        from lodestar.security.api_keys import list_keys

        return list_keys(self.ops, include_revoked=include_revoked)

    def revoke_api_key(self, key_id: int, *, actor: str | None = None) -> ApiKey:
        from lodestar.security.actors import local_actor as _actor
        from lodestar.security.api_keys import revoke_key

        return revoke_key(self.ops, key_id, actor=actor or _actor())

    def authenticate_api_key(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, else None."""
        from lodestar.security.api_keys import authenticate

        return authenticate(self.ops, token)
