#!/usr/bin/env bash
# Removes what the container tests started and may have left behind after a crash:
# containers, compose projects, networks and volumes named/labelled with the test prefix
# (lpb-test). Leaves images (they are the build cache) and the engine running.
# Safe to run any time; never touches anything without that prefix or label.
set -uo pipefail
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || true); fi
[ -n "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1 || { echo "[docker-teardown] no engine; nothing to do" >&2; exit 0; }

PREFIX=lpb-test
LABEL=io.llm-proxy-bootstrap.test

ids=$( { "$DOCKER" ps -aq --filter "label=$LABEL"
         "$DOCKER" ps -aq --filter "name=^/$PREFIX"
         "$DOCKER" ps -aq --filter "label=com.docker.compose.project" --format '{{.ID}} {{.Label "com.docker.compose.project"}}' \
           | awk -v p="$PREFIX" 'index($2, p) == 1 { print $1 }'
       } | sort -u)
[ -n "$ids" ] && "$DOCKER" rm -f -v $ids >/dev/null && echo "[docker-teardown] removed $(echo "$ids" | wc -l) container(s)" >&2

nets=$("$DOCKER" network ls -q --filter "name=^$PREFIX"; "$DOCKER" network ls -q --filter "label=$LABEL")
nets=$(echo "$nets" | sort -u | sed '/^$/d')
[ -n "$nets" ] && "$DOCKER" network rm $nets >/dev/null && echo "[docker-teardown] removed $(echo "$nets" | wc -l) network(s)" >&2

vols=$("$DOCKER" volume ls -q --filter "name=^$PREFIX"; "$DOCKER" volume ls -q --filter "label=$LABEL")
vols=$(echo "$vols" | sort -u | sed '/^$/d')
[ -n "$vols" ] && "$DOCKER" volume rm -f $vols >/dev/null && echo "[docker-teardown] removed $(echo "$vols" | wc -l) volume(s)" >&2
exit 0
