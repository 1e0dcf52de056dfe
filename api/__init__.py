"""Entry points: the command-line tool (and, later, the HTTP API)."""
