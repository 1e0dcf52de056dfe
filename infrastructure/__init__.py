"""Adapters: settings, persistence, key files and the blob store."""
