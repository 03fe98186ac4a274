#!/bin/sh
# The official rabbitmq image's RABBITMQ_DEFAULT_* variables, written as the server's own settings
# (they apply when the node first boots on an empty data directory), then the server in the
# foreground. The official image also accepts remote logins for the default user: loopback_users none.
set -eu
conf=/etc/rabbitmq/conf.d/10-defaults.conf
{
    echo "loopback_users = none"
    [ -z "${RABBITMQ_DEFAULT_USER:-}" ] || echo "default_user = $RABBITMQ_DEFAULT_USER"
    [ -z "${RABBITMQ_DEFAULT_PASS:-}" ] || echo "default_pass = $RABBITMQ_DEFAULT_PASS"
    [ -z "${RABBITMQ_DEFAULT_VHOST:-}" ] || echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
} > "$conf"
exec "$@"
