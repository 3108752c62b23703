# Tampere: multi-stage build, non-root runtime, health check, `tampere serve` on the embedded
# default (SQLite under /var/lib/tampere). Set TAMPERE_DATABASE_URL for PostgreSQL+PostGIS.

# The web app (web/): built from its lock file; only its output (dist/) reaches the image.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# setup.py compiles cap/parsing.py with mypyc (gcc above; Python's headers come with the image).
COPY pyproject.toml setup.py README.md ./
COPY cap ./cap
COPY geo ./geo
COPY contact_points ./contact_points
COPY service ./service
RUN python -m venv /opt/tampere \
 && /opt/tampere/bin/pip install --upgrade pip \
 && /opt/tampere/bin/pip install .

FROM python:3.11-slim-bookworm AS runtime
RUN useradd --system --create-home --home-dir /var/lib/tampere --uid 10001 tampere
COPY --from=build /opt/tampere /opt/tampere
COPY --from=web /web/dist /opt/tampere/web
ENV PATH=/opt/tampere/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TAMPERE_DATA_DIR=/var/lib/tampere \
    TAMPERE_WEB_DIR=/opt/tampere/web
USER tampere
WORKDIR /var/lib/tampere
VOLUME ["/var/lib/tampere"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["tampere", "serve", "--host", "0.0.0.0", "--port", "8000"]
