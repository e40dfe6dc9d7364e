#!/usr/bin/env bash
# Builds a local stand-in for docker.io/library/node:20-bookworm-slim, for machines that
# cannot pull it (no container registry reachable) but reach deb.debian.org: Debian
# bookworm minbase (mmdebstrap, as root), this machine's Node 20 and npm, the node user
# (uid 1000) the official image has, and this machine's CA bundle (a TLS-intercepting
# egress proxy signs registry.npmjs.org with its own CA; the build stage's npm ci needs it).
# Usage (as root): test/image/standin-base.sh   (podman, buildah's vfs storage)
set -euo pipefail
work=$(mktemp -d /tmp/loyaltyd-standin-XXXXXX)
trap 'rm -rf "$work"' EXIT
mmdebstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs.tar" http://deb.debian.org/debian
podman import "$work/rootfs.tar" localhost/loyaltyd-bookworm-minbase:latest
mkdir "$work/ctx"
cp "$(command -v node)" "$work/ctx/node"
cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$work/ctx/npm"
cp /etc/ssl/certs/ca-certificates.crt "$work/ctx/ca-certificates.crt"
cat > "$work/ctx/Containerfile" <<'CONTAINERFILE'
FROM localhost/loyaltyd-bookworm-minbase:latest
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD ["node"]
CONTAINERFILE
podman build --isolation chroot -t docker.io/library/node:20-bookworm-slim "$work/ctx"
