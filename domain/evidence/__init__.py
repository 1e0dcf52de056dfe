"""Evidence: signed envelopes, keys, statements and receipts, Merkle trees, checkpoints."""
