"""Projection views as SQL tables: inboxes, outboxes, status, registers, statistics."""
