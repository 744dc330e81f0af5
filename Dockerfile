# The production shape's image: web (gunicorn), Celery worker and Celery beat all run it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SIGNPOST_DATA_DIR=/var/lib/signpost
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY signpost ./signpost
COPY children ./children
COPY practitioners ./practitioners
COPY audit ./audit
COPY housekeeping ./housekeeping
COPY feeds ./feeds
RUN pip install --no-cache-dir -c constraints.txt .
COPY . .
# /var/lib/signpost-anchors is the audit anchor file's own volume (docker-compose.yml): created here
# so that a fresh named volume starts owned by the app user.
RUN useradd --system --home /var/lib/signpost signpost \
    && mkdir -p /var/lib/signpost /var/lib/signpost-anchors \
    && chown signpost /var/lib/signpost /var/lib/signpost-anchors
USER signpost
EXPOSE 8000
# Exec form: gunicorn's master is the process the container runtime (or its init) watches, so
# a dead master takes its workers with it instead of leaving them bound to the port.
CMD ["gunicorn", "signpost.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
