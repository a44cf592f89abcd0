# syntax=docker/dockerfile:1
#
# keda-auth: `docker build -t keda-auth .` then `docker run --read-only --tmpfs /tmp keda-auth check --help`.
# In Kubernetes: readOnlyRootFilesystem: true with an emptyDir at /tmp, runAsNonRoot: true; liveness and
# readiness come from the Deployment's probes (no HEALTHCHECK here).

# -- build: the keda-auth wheel and a wheel for every dependency, so the runtime stage needs no index and no compiler
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Exactly what pyproject.toml packages: bot and remediations, templates and migrations (force-included
# into the wheel as bot/_templates and bot/_migrations), and the README (the package's readme).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY remediations ./remediations
COPY templates ./templates
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# -- runtime: the installed wheels only; no compilers, no build tools, no pip cache, no source tree
FROM python:3.11-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="keda-auth" \
      org.opencontainers.image.description="Chat-ops doctor for KEDA's Azure Workload Identity authentication" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
# Nothing is written outside /tmp: no bytecode next to the code, HOME and the default SQLite store
# ($XDG_STATE_HOME/keda-auth/keda-auth.db, used when KEDA_AUTH_DB is unset) live under /tmp.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    XDG_STATE_HOME=/tmp/state
RUN groupadd --gid 10001 keda-auth \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin keda-auth
# The wheels are bind-mounted from the build stage, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels keda-auth
WORKDIR /tmp
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["keda-auth"]
CMD ["serve"]
