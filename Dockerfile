FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LC_ALL=C.UTF-8
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY mall mall
COPY catalog catalog
COPY review_rules review_rules
COPY pricing_monitor pricing_monitor
COPY migrations migrations
RUN pip install --no-cache-dir -e . && useradd --system mall && mkdir -p /var/lib/mall && chown mall /var/lib/mall
USER mall
EXPOSE 8000
CMD ["mall", "serve", "--host", "0.0.0.0"]
