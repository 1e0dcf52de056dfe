# The docledger image: the API (`docledger serve`) and the views worker
# (`docledger project --follow`) run from it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DOCLEDGER_DATA=/data

WORKDIR /app
# Only what the package needs (no .venv, tests or data folders from the build context).
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY infrastructure ./infrastructure
COPY api ./api
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data docledger \
    && mkdir -p /data && chown docledger:docledger /data

# Keys (ledger, registrar) live in the data volume, readable only by this user.
USER docledger
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["docledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
