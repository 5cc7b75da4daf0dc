#!/bin/sh
# Entrypoint of the Plenum image: migrate the database when PLENUM_MIGRATE=1 (the web service
# sets it, so migrations run once, before the server listens), then run the given command.
set -eu
if [ "${PLENUM_MIGRATE:-0}" = "1" ]; then
    python manage.py migrate --noinput
fi
exec "$@"
