# hullcheck's collector (and evaluator) as an image.
#
# Build:  docker build -t hullcheck .
# Run (audit the host the container runs on; every mount is read-only):
#   docker run --rm --network none \
#     -v /:/host:ro -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     hullcheck collect --host-root /host > snapshot.json
#
# The collector leaves its own container out of every finding: it records its container id in
# meta.collector.container_id and the policies' resource helpers skip that container.
#
# It runs as root on purpose: reading the host's 0600/0640 files (daemon.json, TLS keys' modes,
# audit rules) below /host and the root-owned Docker socket needs it. Nothing is written: the
# root filesystem of the host and the socket are mounted read-only, and the collector only makes
# GET calls to the engine. Access to the Docker socket is root on the host all the same: run
# this image only where you would run `docker` as root.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hullcheck ./hullcheck
COPY hullcheck_common ./hullcheck_common
COPY collector ./collector
COPY evaluator ./evaluator
COPY policies ./policies
COPY snapshots ./snapshots
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
LABEL org.opencontainers.image.title="hullcheck" \
      org.opencontainers.image.description="Security auditor for Docker hosts: collect a snapshot, evaluate jq policies offline" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels hullcheck && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /work
ENTRYPOINT ["hullcheck"]
CMD ["--help"]
