# TEST DOUBLE image: the LiteLLM stand-in (test/support/litellm-stand-in.ts, bundled by
# scripts/build.mjs into build/test/stand-in.mjs) serving LiteLLM's health, key-management
# and /v1/models routes on port 4000. Build context: build/test.
#
#   docker build -f test/support/stand-in.Dockerfile -t llm-proxy-bootstrap/stand-in build/test
#
# Env: LITELLM_MASTER_KEY (required), STAND_IN_DB, STAND_IN_MODELS, ... (see stand-in-main.ts).
# It has node and a shell, so it can also stand in for postgres in compose tests.
ARG STAND_IN_BASE_IMAGE=node:24-bookworm-slim
FROM ${STAND_IN_BASE_IMAGE}
COPY stand-in.mjs /stand-in/stand-in.mjs
ENV PORT=4000 HOST=0.0.0.0
EXPOSE 4000
USER 1000:1000
HEALTHCHECK --interval=1s --timeout=3s --retries=30 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/health/liveliness').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/stand-in/stand-in.mjs"]
