-- Signpost's two database roles (docs/deployment.md). Run once, as a PostgreSQL superuser, with
-- psql variables: db, owner, owner_password, app, app_password. deploy/postgres/init-roles.sh does
-- this on the db container's first start; elsewhere:
--   psql -v ON_ERROR_STOP=1 -v db=signpost -v owner=signpost_owner -v owner_password=... \
--        -v app=signpost_app -v app_password=... -f deploy/postgres/init-roles.sql postgres
-- Safe to run again: it creates what is missing and resets what it sets.
\set ON_ERROR_STOP on

-- The owner: owns the database, its schema and every table, function and partition; runs migrations.
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
-- The runtime role: web, worker and beat. Owns nothing; manage.py grant_runtime_role grants it
-- DML on ordinary tables and only SELECT/INSERT on the audit tables after every migration.
SELECT format('CREATE ROLE %I LOGIN', :'app')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec

ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
-- Neither role can act as the other.
SELECT format('REVOKE %I FROM %I', :'owner', :'app')
 WHERE EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
               WHERE r.rolname = :'owner' AND u.rolname = :'app') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

\connect :db
-- Nobody but the owner creates anything in the schema (PostgreSQL 15's default, made explicit).
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
