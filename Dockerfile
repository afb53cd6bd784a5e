# llm-proxy-bootstrap: the one-shot sidecar image.
#
#   docker build -t llm-proxy-bootstrap .        # BuildKit (the default builder since Docker 23)
#
# Base images are build arguments, so the defaults need no flags and CI (which has
# no image registry) can substitute local stand-ins built by .ci/docker-setup.sh.
# No `# syntax=` line on purpose: the builder's built-in frontend is used, so the
# build never pulls a frontend image.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12
# An image whose /_cacache is an npm cache holding every package of package-lock.json.
# Set it to build offline (CI does); by default this stage is empty and `npm ci` fetches.
ARG NPM_CACHE_IMAGE=scratch

FROM ${NPM_CACHE_IMAGE} AS npm-cache

# --- build: install, typecheck, bundle ----------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,id=llm-proxy-bootstrap-npm,target=/root/.npm,sharing=locked \
    --mount=type=bind,from=npm-cache,target=/tmp/npm-seed,rw \
    if [ -d /tmp/npm-seed/_cacache ]; then \
      npm ci --offline --cache /tmp/npm-seed; \
    else \
      npm ci; \
    fi
# .dockerignore admits only what the typecheck and the bundle read.
COPY . .
RUN npm run typecheck && node scripts/build.mjs

# THIRD_PARTY_NOTICES: the licence of every package bundled into the two files (scripts/build.mjs).
RUN mkdir -p /app /compile-cache && cp dist/cli.cjs dist/bootstrap.cjs dist/THIRD_PARTY_NOTICES /app/ && chmod -R a+rX,go-w /app

# --- runtime: Node 24 + two files and their third-party notices -----------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="llm-proxy-bootstrap" \
      org.opencontainers.image.description="One-shot sidecar that makes a self-hosted LiteLLM proxy usable: waits for it, mirrors provider secrets, issues the agent's virtual key." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.documentation="docs/stack.md"
COPY --from=build --chown=0:0 /app /app
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/.compile-cache
# Node's compile cache, baked by one start of this stage's own Node (a cache is
# only used by the Node version that wrote it) as the image's user: Node keeps
# one cache per uid, so a run as another uid (compose's `user: "${UID}:${GID}"`)
# finds none and, on the read-only filesystem, writes none: it runs without,
# ~20 ms slower (docs/performance.md). Exec form: the runtime image has no shell.
COPY --from=build --chown=65532:65532 /compile-cache /app/.compile-cache
USER 65532:65532
RUN ["/nodejs/bin/node", "/app/cli.cjs", "--version"]
# Relative paths in settings (e.g. LITELLM_BOOTSTRAP_CONFIG=keys.yaml) resolve against the env directory.
WORKDIR /bootstrap/env
# The image's user is distroless's "nonroot" (65532, set above); compose overrides
# it with the owner of ./volumes/env.
# Node's absolute path in gcr.io/distroless/nodejs*-debian12 (and in CI's stand-in).
# `--` ends Node's own options: without it Node claims `--env-file` anywhere on
# the command line (nodejs/node#54232), so `docker run <image> --env-file x` would
# never reach the bootstrap.
ENTRYPOINT ["/nodejs/bin/node", "--", "/app/cli.cjs"]
