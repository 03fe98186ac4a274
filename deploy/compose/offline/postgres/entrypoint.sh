#!/bin/sh
# The official postgres image's first start, reduced to what compose uses: an empty PGDATA is
# initialised with POSTGRES_USER (superuser) / POSTGRES_PASSWORD and POSTGRES_DB is created; then
# the server runs in the foreground, listening on every address with password authentication
# (POSTGRES_HOST_AUTH_METHOD=trust: without, and then no password is needed, as in the official image;
# `make dev` uses it for a DATABASE_URL without a password, published on 127.0.0.1 only).
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "error: POSTGRES_PASSWORD is required unless POSTGRES_HOST_AUTH_METHOD=trust (as with the official image)" >&2
    exit 1
fi
if [ "${1:-postgres}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then pwopt="--pwfile=$pwfile"; else pwopt=""; fi
    # shellcheck disable=SC2086  # $pwopt is one option or none
    initdb --username="$POSTGRES_USER" $pwopt --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
        --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA"
    rm -f "$pwfile"
    echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
fi
if [ "${1:-postgres}" = postgres ]; then
    [ "$#" -gt 0 ] && shift
    exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
