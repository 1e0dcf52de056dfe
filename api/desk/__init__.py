"""The web desk: clerks' pages served by ``docledger serve`` under /desk/ (docs/desk.md)."""
