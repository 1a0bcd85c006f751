"""One exception tree for every user-facing failure.

Every error says *what* is wrong and *where* (file, row, column, field) and, where it can, how to
fix it. The CLI prints ``str(error)`` and exits non-zero; the API maps each class to an HTTP
status (:mod:`lodestar.api.errors`).

::

    LodestarError
    ├── ConfigError               settings or a configuration file are wrong
    │   ├── DefinitionError       declarative definitions (tags...) have problems; lists each
    │   │                         with file, line and field
    │   └── NotFound              a named thing (plan, customer, API key...) does not exist
    ├── WorkspaceError            no workspace, or a workspace in an unusable state
    ├── SchemaError               an unknown entity / field, or a mapping that does not fit
    ├── IngestError               a file could not be loaded; nothing was written
    │   └── ValidationFailed      rows broke schema rules; carries a ValidationReport
    ├── DatasetError              a public dataset is missing or not the expected file
    ├── RightsError               the rights ledger refused an operation; nothing was written
    │   ├── BudgetExhausted       a right's budget (CNY or count) cannot cover one more issue
    │   └── InsufficientPoints    a customer has fewer points than an operation needs
    ├── SegmentError              an audience expression cannot be read, checked or resolved;
    │                             carries the column and the expression to point at the spot
    ├── StorageError              the operational or analytical store refused an operation
    ├── CampaignError             a campaign lifecycle action not allowed now, or not for
    │                             this person (maker-checker, roles, states)
    └── ChannelError              a channel cannot be used as configured or called
        └── WebhookRejected       an incoming webhook failed its signature, timestamp or
                                  replay check, or its body cannot be read
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodestar.data.validation import ValidationReport


class LodestarError(Exception):
    """Base of every error Lodestar raises on purpose."""

    code = "lodestar_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(LodestarError):
    code = "config_error"


class DefinitionError(ConfigError):
    """One or more problems in user definitions, each as ``file:line: field 'x': message``."""

    code = "definition_error"

    def __init__(self, problems: list[str], *, what: str = "definitions") -> None:
        head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the {what}"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


class NotFound(ConfigError):
    """A plan, customer, key... asked for by name or id does not exist (HTTP 404)."""

    code = "not_found"


class WorkspaceError(LodestarError):
    code = "workspace_error"


class SchemaError(LodestarError):
    code = "schema_error"


class IngestError(LodestarError):
    code = "ingest_error"


class ValidationFailed(IngestError):
    """Raised when a batch breaks schema rules. ``report`` says which rows and why."""

    code = "validation_failed"

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary_line(), hint=None)
        self.report = report

    def __str__(self) -> str:
        return self.report.render()


class DatasetError(LodestarError):
    code = "dataset_error"


class RightsError(LodestarError):
    code = "rights_error"


class BudgetExhausted(RightsError):
    code = "budget_exhausted"


class InsufficientPoints(RightsError):
    code = "insufficient_points"


class StorageError(LodestarError):
    code = "storage_error"


class CampaignError(LodestarError):
    code = "campaign_error"


class ChannelError(LodestarError):
    """A channel (lodestar.channels) cannot be used: a message it cannot carry, a closed adapter.

    Failures of a *send* are not raised: they come back as a ``SendResult`` the outbox retries
    or dead-letters.
    """

    code = "channel_error"


class WebhookRejected(ChannelError):
    """An incoming webhook was refused. ``reason`` is one of ``missing_signature``,
    ``bad_signature``, ``stale_timestamp``, ``replayed``, ``bad_body``; the message never echoes
    the body (it may carry customers' addresses)."""

    code = "webhook_rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SegmentError(LodestarError):
    """An audience expression that cannot be read, checked or resolved.

    The message is a :mod:`lodestar.i18n` key with parameters, rendered in the caller's language
    (``render(locale)``; ``str()`` uses ``LODESTAR_LANG`` or zh-CN). ``position`` is the 1-based
    column in ``expression``; the rendering shows the expression with a caret under that column.
    ``segment`` names the saved segment whose stored expression the position refers to.
    """

    code = "segment_error"

    def __init__(
        self,
        key: str,
        *,
        position: int | None = None,
        expression: str | None = None,
        hint_key: str | None = None,
        segment: str | None = None,
        localized: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        self.key = key
        self.params = params
        #: parameters that are themselves message keys (e.g. a kind: "a number" / "数值")
        self.localized = localized or {}
        self.position = position
        self.expression = expression
        self.hint_key = hint_key
        self.segment = segment
        super().__init__(self._text("en", key), hint=self._hint("en"))

    def _text(self, locale: str, key: str) -> str:
        from lodestar.i18n import t

        words = {name: t(k, locale) for name, k in self.localized.items()}
        return t(key, locale, column=self.position, **self.params, **words)

    def _hint(self, locale: str) -> str | None:
        return self._text(locale, self.hint_key) if self.hint_key else None

    def render(self, locale: str | None = None) -> str:
        """The message, the expression with a caret under the column, and the hint."""
        from lodestar.i18n import resolve_locale, t

        loc = resolve_locale(locale)
        message = self._text(loc, self.key)
        if self.segment is not None:
            message = t("seg.in_saved", loc, name=self.segment) + message
        lines = [message]
        if self.expression is not None and self.position is not None:
            lines += ["  " + self.expression, "  " + caret(self.expression, self.position)]
        hint = self._hint(loc)
        if hint:
            lines.append(f"  {t('seg.hint', loc)}{hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def caret(expression: str, position: int) -> str:
    """Spaces and a ``^`` under the 1-based ``position`` of ``expression``; wide (CJK) characters
    take two columns on a terminal, so they count twice.

    >>> caret("age = 'x'", 7)
    '      ^'
    """
    from unicodedata import east_asian_width

    before = expression[: max(position - 1, 0)]
    width = sum(2 if east_asian_width(ch) in ("W", "F") else 1 for ch in before)
    return " " * width + "^"
