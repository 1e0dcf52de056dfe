"""The HTTP API (FastAPI): agencies' document systems, clerks' screens, auditors."""
