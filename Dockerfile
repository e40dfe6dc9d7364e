# loyaltyd: Node 20 on Debian slim, with Debian's nats-server for the embedded default.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.client.json ./
COPY src ./src
COPY bench ./bench
RUN npm ci && npm prune --omit=dev
COPY config ./config
ENV LOYALTYD_HTTP_HOST=0.0.0.0 \
    LOYALTYD_DATADIR=/data
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
EXPOSE 8080
USER node
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
