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

# Bake the CLI's code cache (src/cli.ts) at the path it runs from: a first run
# and a warm run against the LiteLLM stand-in (a test double, here only so the
# runs take the real code paths; it stays in this stage). The cache is made
# after a run, so it holds every function the run compiled. Root owns it and
# nobody else can write it, which the CLI checks before trusting it.
RUN mkdir -p /app/.compile-cache \
 && cp dist/cli.cjs dist/bootstrap.cjs dist/undici.cjs /app/ \
 && node scripts/prime-cache.mjs /app/cli.cjs /app/.compile-cache \
 && chmod -R a+rX,go-w /app

# --- runtime: Node 24 + three files (undici.cjs: Secret mode only) ----------------
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
# Relative paths in settings (e.g. LITELLM_BOOTSTRAP_CONFIG=keys.yaml) resolve against the env directory.
WORKDIR /bootstrap/env
# distroless's "nonroot"; compose overrides it with the owner of ./volumes/env.
USER 65532:65532
# Node's absolute path in gcr.io/distroless/nodejs*-debian12 (and in CI's stand-in).
ENTRYPOINT ["/nodejs/bin/node", "/app/cli.cjs"]
