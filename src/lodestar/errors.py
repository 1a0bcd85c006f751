"""One exception tree for every user-facing failure.

Every error says *what* is wrong and *where* (file, row, column, field) and, where it can, how to
fix it. The CLI prints ``str(error)`` and exits non-zero; the API (later) maps ``code`` to a
status.

::

    LodestarError
    ├── ConfigError               settings or a configuration file are wrong
    ├── WorkspaceError            no workspace, or a workspace in an unusable state
    ├── SchemaError               an unknown entity / field, or a mapping that does not fit
    ├── IngestError               a file could not be loaded; nothing was written
    │   └── ValidationFailed      rows broke schema rules; carries a ValidationReport
    ├── DatasetError              a public dataset is missing or not the expected file
    └── StorageError              the operational or analytical store refused an operation
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


class StorageError(LodestarError):
    code = "storage_error"
