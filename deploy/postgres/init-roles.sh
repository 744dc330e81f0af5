#!/bin/sh
# The db container's first start (/docker-entrypoint-initdb.d): create Signpost's two roles and its
# database from the environment. PostgreSQL's entrypoint runs this only on an empty data volume.
set -eu
: "${SIGNPOST_OWNER_PASSWORD:?set SIGNPOST_OWNER_PASSWORD}"
: "${SIGNPOST_APP_PASSWORD:?set SIGNPOST_APP_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v db="${SIGNPOST_DB:-signpost}" \
  -v owner="${SIGNPOST_OWNER:-signpost_owner}" -v owner_password="$SIGNPOST_OWNER_PASSWORD" \
  -v app="${SIGNPOST_APP:-signpost_app}" -v app_password="$SIGNPOST_APP_PASSWORD" \
  -f /deploy/postgres/init-roles.sql
