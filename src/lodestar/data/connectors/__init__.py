"""Connectors that map public datasets into the canonical model (``lodestar import-dataset``).

See ``docs/datasets.md`` for each mapping.
"""

from __future__ import annotations

from lodestar.data.connectors import bank_marketing, credit, hillstrom, retail, web_logs
from lodestar.data.connectors.base import DatasetConnector
from lodestar.errors import DatasetError

DATASETS: dict[str, DatasetConnector] = {
    c.name: c
    for c in (
        bank_marketing.CONNECTOR,
        hillstrom.CONNECTOR,
        credit.GERMAN,
        credit.GMSC,
        retail.CDNOW,
        retail.CHURN,
        web_logs.CONNECTOR,
    )
}


def get_connector(name: str) -> DatasetConnector:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset '{name}'", hint=f"known datasets: {', '.join(DATASETS)}"
        ) from None


__all__ = ["DATASETS", "DatasetConnector", "get_connector"]
