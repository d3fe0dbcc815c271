# Moderation: slim image, non-root, the shipped model inside.
# The install steps are the README's: `pip install .`, then `moderation serve`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MODERATION_HOST=0.0.0.0 \
    MODERATION_PORT=8000 \
    MODERATION_DATA_DIR=/var/lib/moderation \
    MODERATION_MODELS_DIR=/app/models \
    MODERATION_SEED_DATA_DIR=/app/training/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY moderation ./moderation
RUN pip install .

COPY models ./models
COPY training ./training

# The models folder is the service user's too: `train --promote` and `models promote` write
# versions and the CURRENT pointer there (and a volume mounted on it starts with this owner).
RUN useradd --system --uid 10001 --home-dir /var/lib/moderation --create-home moderation \
    && chown -R moderation /var/lib/moderation /app/models
USER moderation
VOLUME ["/var/lib/moderation"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

CMD ["moderation", "serve"]
