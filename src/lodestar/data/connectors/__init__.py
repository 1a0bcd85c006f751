"""Connectors that map public datasets into the canonical model (``lodestar import-dataset``).

One module per dataset; each module's docstring records its mapping decisions and
``docs/datasets.md`` summarises them.

>>> from lodestar.data.connectors import DATASETS
>>> sorted(DATASETS)[:3]
['bank-churn', 'bank-marketing', 'cdnow']
"""

from __future__ import annotations

from lodestar.data.connectors import (
    bank_churn,
    bank_marketing,
    cdnow,
    german_credit,
    give_me_some_credit,
    hillstrom,
    online_shoppers,
    web_logs,
)
from lodestar.data.connectors.base import DatasetConnector
from lodestar.errors import DatasetError

DATASETS: dict[str, DatasetConnector] = {
    c.name: c
    for c in (
        bank_marketing.CONNECTOR,
        hillstrom.CONNECTOR,
        german_credit.CONNECTOR,
        give_me_some_credit.CONNECTOR,
        cdnow.CONNECTOR,
        bank_churn.CONNECTOR,
        web_logs.CONNECTOR,
        online_shoppers.CONNECTOR,
    )
}


def get_connector(name: str) -> DatasetConnector:
    """The connector called ``name``; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset '{name}' (known datasets: {', '.join(DATASETS)})",
            hint="`lodestar datasets` lists them with what each loads",
        ) from None


__all__ = ["DATASETS", "DatasetConnector", "get_connector"]
