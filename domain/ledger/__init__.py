"""The ledger application: signed commands in, verified and executed, events out."""
