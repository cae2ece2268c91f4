// The database's one-off tasks on Swarm, as commands. Pure. The roles task runs on the database's node with the
// database's socket directory (a named volume both mount) and connects as the superuser over that local socket —
// the only place the superuser may log in; the role passwords are Swarm secret files, read into psql's stdin.
import { rolesScript } from "../postgres/roles";
import { DB_ROLES } from "../vocabulary";
import { secretPath } from "./spec";

/** Where PostgreSQL puts its socket; a named volume shared with the roles task. */
export const SOCKET_DIR = "/var/run/postgresql";
/** The secret files of the roles task. */
export const ROLE_SECRET = { owner: "SLIPWAY_DB_OWNER_PASSWORD", api: "SLIPWAY_DB_API_PASSWORD" } as const;

/** `sh -c` script of the roles task: wait for the server, check the passwords' form, run the roles script. */
export function rolesTaskScript(db: { user: string; database: string }, waitSeconds = 300): string {
  const isready = `pg_isready -q -h ${SOCKET_DIR} -U ${db.user} -d ${db.database}`;
  const psql = `psql -h ${SOCKET_DIR} --no-psqlrc --quiet --set ON_ERROR_STOP=1 --set dbname=${db.database} --username ${db.user} --dbname ${db.database}`;
  return [
    "set -eu",
    `i=0; until ${isready} && [ "$(psql -h ${SOCKET_DIR} -U ${db.user} -d ${db.database} -Atc 'select pg_is_in_recovery()')" = f ]; do i=$((i+1)); [ $i -lt ${waitSeconds} ] || { echo "database not ready after ${waitSeconds} s" >&2; exit 1; }; sleep 1; done`,
    `owner=$(cat ${secretPath(ROLE_SECRET.owner)}); api=$(cat ${secretPath(ROLE_SECRET.api)})`,
    `for p in "$owner" "$api"; do case "$p" in ''|*[!A-Za-z0-9]*) echo "role passwords must be letters and digits" >&2; exit 2;; esac; done`,
    `{ printf '\\\\set owner_password %s\\n\\\\set api_password %s\\n' "$owner" "$api"; cat <<'SLIPWAY_ROLES'`,
    rolesScript(),
    "SLIPWAY_ROLES",
    `} | ${psql}`,
    `echo "roles ${DB_ROLES.owner} and ${DB_ROLES.api} in place"`,
  ].join("\n");
}
