"""Verification without trusting the operator: the full audit, audit bundles, document histories."""
