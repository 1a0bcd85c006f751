"""The examples in the channel modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["channel", "fake", "http_gateway", "smtp_email", "webhooks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"lodestar.channels.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
