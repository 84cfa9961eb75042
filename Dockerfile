# Kiln's production image: one image for every process of the Procfile (compose.yaml picks the command).
# Build: docker build -t kiln . (needs PyPI, the Debian mirror and the npm registry; nothing else).
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kiln
# Dependencies first (pinned in pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml package.json package-lock.json ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir --upgrade pip \
    && .venv/bin/pip install --no-cache-dir . \
    && npm ci --no-audit --no-fund --loglevel=error
COPY . .
# The HMI's front-end libraries, served by Kiln itself (scripts/install.sh does the same).
RUN mkdir -p static/vendor/uplot \
    && cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE \
       static/vendor/uplot/ \
    && rm -rf node_modules

FROM python:3.11-slim-bookworm
# Pango for report PDFs (weasyprint); nothing else beyond Python.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /opt/kiln kiln && install -d -o kiln -g kiln /var/lib/kiln
COPY --from=build /opt/kiln /opt/kiln
WORKDIR /opt/kiln
USER kiln
# No secret here: SECRET_KEY, JWT_SIGNING_KEY, KILN_AUDIT_KEY, DATABASE_URL come from the environment at run time,
# and with DEBUG=0 a process refuses to start without strong ones.
ENV PYTHONUNBUFFERED=1 DEBUG=0 KILN_BIND=0.0.0.0 KILN_PORT=8000 KILN_STATE_DIR=/var/lib/kiln \
    STATIC_ROOT=/var/lib/kiln/static
EXPOSE 8000
# The web process by default (migrate, collectstatic, daphne); compose.yaml gives the workers their commands.
CMD ["bash", "scripts/serve.sh"]
