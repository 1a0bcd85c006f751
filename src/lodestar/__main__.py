"""``python -m lodestar`` is the ``lodestar`` command."""

from lodestar.cli.main import main

main()
