# The product image: CDS Hooks service + SMART app under gunicorn.
# Configure with AA_JAK_* environment variables or a YAML file named by AA_JAK_CONFIG_FILE;
# AA_JAK_SECRET_KEY is required (the server refuses to start without it outside dev mode).
# The development sandbox (sandbox/, sekmet-fhir, synthetic patients) is deliberately not in the image.
# The schema migrations ship inside the storage package (storage/migrations/). `aa-jak serve` upgrades
# the database schema at start, once, before its workers (PostgreSQL: under an advisory lock, so
# replicas may start together); `aa-jak db upgrade` does the same as a separate step, e.g. a release job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system --gid 10001 aajak \
    && useradd --system --uid 10001 --gid aajak --home-dir /app --shell /usr/sbin/nologin aajak

COPY pyproject.toml README.md LICENSE ./
COPY aa_jak ./aa_jak
COPY clinical_core ./clinical_core
COPY fhir_access ./fhir_access
COPY storage ./storage
COPY cds_hooks ./cds_hooks
COPY smart_app ./smart_app

RUN pip install ".[postgres]" \
    && mkdir -p /app/var \
    && chown aajak:aajak /app/var

USER aajak

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status == 200 else 1)"]

CMD ["aa-jak", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
