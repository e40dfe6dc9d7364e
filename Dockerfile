# loyaltyd, in two stages: the build stage has the toolchain (npm ci with the dev
# dependencies, tsc); the runtime stage has only what runs: dist/src, the production
# node_modules, the sample programmes, and Debian's nats-server for the embedded default
# (used when LOYALTYD_NATS_URL is not set). deploy/compose.yaml builds and runs it.

FROM node:20-bookworm-slim AS build
# python3, make and g++ only in case a native module (lmdb, msgpackr-extract) has no prebuilt binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json tsconfig.json tsconfig.client.json ./
COPY src ./src
COPY bench ./bench
COPY web ./web
# npm ci runs the package's prepare script (tsc into dist/, the console and the portal into dist/web/); then the dev dependencies go.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    LOYALTYD_HTTP_HOST=0.0.0.0 \
    LOYALTYD_HTTP_PORT=8080 \
    LOYALTYD_DATADIR=/data \
    LOYALTYD_PROGRAMMESDIR=/app/config/programmes
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist/src ./dist/src
COPY --from=build /build/dist/web ./dist/web
COPY config ./config
# The node image's unprivileged user owns the data volume; nothing under /app is writable by it.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# Liveness of the HTTP listener (GET /healthz), with node itself: the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LOYALTYD_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
