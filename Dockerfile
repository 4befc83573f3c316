# The API image: `amaan` on Python 3.11, as an unprivileged user. Its settings come from the
# environment (see compose.yaml and the README's "In production"); it holds no secret.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY etl etl
COPY privacy privacy
COPY schema schema
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 amaan
COPY --from=build /install /usr/local
USER amaan
WORKDIR /home/amaan
ENV AMAAN_ENVIRONMENT=production PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
ENTRYPOINT ["amaan"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
