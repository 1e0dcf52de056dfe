"""The pure model of docledger: aggregates, signed commands, verification."""
