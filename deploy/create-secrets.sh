#!/bin/sh
# The secrets of docker-compose.yml: one file per secret in ./secrets/ (or the directory given),
# mounted read-only in the containers at /run/secrets/<name>. See docs/operations.md (Docker
# deployment).
#
#   sh deploy/create-secrets.sh [DIR]
#
# Generates the PostgreSQL and Redis passwords (with the URLs the engine connects with and
# Redis's ACL file), Flower's login, the console's first user (an operator: `cat
# secrets/console_users` shows its password) and the two webhook secrets; leaves the store's and
# the ERP's secrets empty, to be filled in (an empty file is an unset variable). A file that
# exists is never changed, so running it again only adds what is missing.
set -eu

dir=${1:-secrets}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random() {
    # 30 random bytes as 60 hex digits: nothing to escape in a URL or an ACL rule.
    od -An -N30 -tx1 /dev/urandom | tr -d ' \n'
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum | cut -d' ' -f1
    else
        shasum -a 256 | cut -d' ' -f1
    fi
}

# create NAME VALUE: write VALUE to DIR/NAME unless that file exists. The directory is the
# owner's alone; the files are world-readable so that the containers' own users (sync, redis,
# postgres) can read them through their mounts.
create() {
    if [ ! -e "$dir/$1" ]; then
        printf '%s' "$2" >"$dir/$1"
        chmod 644 "$dir/$1"
        echo "created $dir/$1"
    fi
}

create postgres_password "$(random)"
create database_url "postgresql://sync:$(cat "$dir/postgres_password")@postgres:5432/sync"

if [ ! -e "$dir/redis_url" ] && [ ! -e "$dir/redis_users.acl" ]; then
    password=$(random)
    digest=$(printf '%s' "$password" | sha256)
    create redis_users.acl "user default off
user sync on #$digest ~* &* +@all -@admin
"
    create redis_url "redis://sync:$password@redis:6379/0"
elif [ ! -e "$dir/redis_url" ] || [ ! -e "$dir/redis_users.acl" ]; then
    echo "$dir/redis_url and $dir/redis_users.acl hold one password between them:" \
        "remove the one left and run this again to create both" >&2
    exit 1
fi

create flower_basic_auth "sync:$(random)"
# The console's first user, an operator (name:password:role; add others separated by commas).
create console_users "admin:$(random):operator"
create webhook_acumatica_secret "$(random)"
create webhook_xcart_secret "$(random)"
# RabbitMQ's user, password and vhost (the rabbitmq profile). The engine uses it once
# broker_url, empty here (the broker is then Redis), names it: see docs/brokers.md.
create rabbitmq.conf "default_user = sync
default_pass = $(random)
default_vhost = sync
"
for name in xcart_api_token acumatica_password acumatica_client_secret sentry_dsn broker_url; do
    create "$name" ""
done
