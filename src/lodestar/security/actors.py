"""Who acts when no API key says so: the local operating-system user, as ``local:<name>``
(what the audit trail records for command-line and notebook work)."""

from __future__ import annotations

import getpass


def local_actor() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"
