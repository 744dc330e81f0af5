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
RUN useradd --system --home /var/lib/signpost signpost && mkdir -p /var/lib/signpost && chown signpost /var/lib/signpost
USER signpost
EXPOSE 8000
CMD ["gunicorn", "signpost.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
