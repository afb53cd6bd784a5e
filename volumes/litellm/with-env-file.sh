#!/bin/sh
# Entrypoint wrapper of the llm-proxy service (docker-compose.yml):
#
#   with-env-file.sh ENV_FILE [COMMAND [ARG...]]
#
# Exports the variables of ENV_FILE (the proxy's env file that llm-proxy-bootstrap
# writes, mounted read-only), then execs COMMAND. Compose reads `env_file:` when it
# loads the project, before the bootstrap's mirror step has written the file; this
# reads it when the container starts, so the proxy sees the provider keys of this `up`.
#
# When COMMAND is missing or starts with `-`, what the image runs gets those arguments:
# its ENTRYPOINT docker/prod_entrypoint.sh (under WORKDIR /app; it honours SEPARATE_HEALTH_APP,
# USE_NEWRELIC and ddtrace), else the component dispatcher /app/docker-entrypoint.sh, else
# `litellm`. When COMMAND is a component (gateway, backend, migrations: LiteLLM's split
# deployment, PR #27557) only the dispatcher understands it: it gets all arguments, and an
# image without it stops the container. Any other COMMAND runs as given.
#
# The file is parsed, never sourced or eval'ed: each line is blank, a `#` comment, or
# NAME=VALUE as the bootstrap writes it (VALUE bare, '...' or "..." with \\ \" \n \r
# escapes). Any other line stops the container with its line number (never its value).
set -eu

die() {
  printf 'with-env-file: %s\n' "$1" >&2
  exit 78
}

[ $# -ge 1 ] || die "usage: with-env-file.sh ENV_FILE [COMMAND [ARG...]]"
file=$1
shift
[ -f "$file" ] || die "$file is missing or not a file: the llm-proxy-init step writes it before the proxy starts (docker compose up runs it; see docs/stack.md)"
[ -r "$file" ] || die "$file is not readable by uid $(id -u): it belongs to UID:GID of the stack (docker-compose.yml: user)"

cr=$(printf '\r')
nl='
'

# "..." content with \\ \" \n \r escapes -> $value
unescape() {
  rest=$1
  value=
  while [ -n "$rest" ]; do
    case $rest in
      \\*)
        esc=${rest#?}
        esc=${esc%"${esc#?}"}
        rest=${rest#??}
        case $esc in
          n) value=$value$nl ;;
          r) value=$value$cr ;;
          \\ | \") value=$value$esc ;;
          *) return 1 ;;
        esac
        ;;
      *\\*)
        head=${rest%%\\*}
        value=$value$head
        rest=${rest#"$head"}
        ;;
      *)
        value=$value$rest
        rest=
        ;;
    esac
  done
}

n=0
loaded=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  line=${line%"$cr"}
  case $line in
    '' | '#'*) continue ;;
  esac
  name=${line%%=*}
  [ "$name" != "$line" ] || die "line $n of $file is not NAME=VALUE"
  case $name in
    '' | [0-9]* | *[!A-Za-z0-9_]*) die "line $n of $file: not a variable name" ;;
  esac
  raw=${line#*=}
  case $raw in
    \'*\')
      value=${raw#\'}
      value=${value%\'}
      case $value in *\'*) die "line $n of $file: a ' inside '...'" ;; esac
      ;;
    \"*\")
      inner=${raw#\"}
      inner=${inner%\"}
      unescape "$inner" || die "line $n of $file: unknown escape in \"...\""
      ;;
    *[!A-Za-z0-9_./:+=@~,%-]*) die "line $n of $file: the value must be quoted" ;;
    *) value=$raw ;;
  esac
  export "$name=$value"
  loaded=$((loaded + 1))
done <"$file"
printf 'with-env-file: %s variable(s) from %s\n' "$loaded" "$file" >&2

# The compose stack's database: docker-compose.yml sets DATABASE_HOST, DATABASE_USERNAME and
# DATABASE_NAME; the password is generated into .env and reaches this file as DATABASE_PASSWORD,
# so it is in no compose file and no `docker inspect`. A DATABASE_URL set otherwise wins.
if [ -z "${DATABASE_URL-}" ] && [ -n "${DATABASE_HOST-}" ]; then
  [ -n "${DATABASE_PASSWORD-}" ] || die "DATABASE_HOST is set but $file has no DATABASE_PASSWORD: set LLM_PROXY_DB_PASSWORD in .env, then docker compose up (docs/stack.md, \"The database password\")"
  case $DATABASE_PASSWORD in
    *[!A-Za-z0-9._~-]*) die "DATABASE_PASSWORD of $file holds characters other than letters, digits and . _ ~ - (it goes into DATABASE_URL as it is)" ;;
  esac
  export DATABASE_URL="postgresql://${DATABASE_USERNAME:-litellm}:${DATABASE_PASSWORD}@${DATABASE_HOST}/${DATABASE_NAME:-litellm}"
fi

image_entrypoint=/app/docker/prod_entrypoint.sh
dispatcher=/app/docker-entrypoint.sh
case ${1-} in
  gateway | backend | migrations)
    [ -x "$dispatcher" ] || die "component '$1' needs LiteLLM's component dispatcher $dispatcher, which this image does not have (it came with LiteLLM's split deployment; older images run one proxy: drop '$1' from the command)"
    set -- "$dispatcher" "$@"
    ;;
  '' | -*)
    if [ -x "$image_entrypoint" ]; then
      set -- "$image_entrypoint" "$@"
    elif [ -x "$dispatcher" ]; then
      set -- "$dispatcher" "$@"
    else
      set -- litellm "$@"
    fi
    ;;
esac
exec "$@"
