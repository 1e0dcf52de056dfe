"""``python -m api`` is the ``docledger`` command."""

from api.cli import main

main()
