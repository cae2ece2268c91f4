// The steps that run before a rollout, as @pulumi/command resources so they are part of the plan
// and of the history: the database roles (src/postgres/roles.ts: owner and API roles, their grants, the superuser
// kept to the local socket), a backup of the database (per-stack setting), then the NEW image's migrations in a
// short-lived container on the backend network, as the owner role. With monitoring on, the backup verb pushes its
// figures to the stack's Pushgateway (--pushgateway). They re-run when the image reference changes (triggers; the
// roles step also when the database container or a role's password does), and nothing runs during preview.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { StackConfig } from "../../stacks/schema";
import { backupVerb } from "../../src/backup/verb";
import { BASE_BACKUP_ARGS, OFF_HOST_BACKUP_ARGS, pgbackrest, WAL_OS_USER, walEgressNetwork } from "../../src/backup/wal";
import { shellJoin } from "../../src/postgres/commands";
import { ROLE_PASSWORD_ENV, rolesCommand } from "../../src/postgres/roles";
import { DB_HOST, DB_ROLES, LABEL_ROLE, LABEL_STACK, ROLES } from "../../src/vocabulary";

export interface DeployStepsArgs {
  /** The stack's Docker name prefix (`<project>-<stack>`): what backups are filed under and containers labelled with. */
  prefix: string;
  image: pulumi.Input<string>;
  backendNetwork: pulumi.Input<string>;
  dbContainer: pulumi.Input<string>;
  /** The database container's ID: a new container (a new cluster, or backup.wal switched on) gets its roles again and a base backup at once. */
  dbContainerId: pulumi.Input<string>;
  /** The superuser: the roles step and the backup run as it, over the database container's local socket. */
  dbUser: string;
  dbName: string;
  /** Passwords of the owner role (the migrations run as it) and of the API's role (Pulumi secrets). */
  ownerPassword: pulumi.Input<string>;
  apiPassword: pulumi.Input<string>;
  backup: StackConfig["backup"];
  /** The stack's Pushgateway container (monitoring on): the backup verb pushes slipway_backup_* there. */
  pushgateway?: pulumi.Input<string>;
  dockerHost?: string;
  /** Directory holding this repository (the backup verb runs from it). */
  projectDir: string;
}

/** The tag part of an image reference ("app:1a2b3c" → "1a2b3c"; digests → the digest's first 12 hex). */
export function imageTag(ref: string): string {
  const at = ref.indexOf("@sha256:");
  if (at >= 0) return ref.slice(at + 8, at + 20);
  const last = ref.slice(ref.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  return colon >= 0 ? last.slice(colon + 1) : "latest";
}

/**
 * A shell loop (in the database container) that waits until the server is out of recovery and is the real server:
 * a container created on a volume that `restore --to-latest` filled replays the archive first (a base backup or
 * ALTER ROLE cannot run meanwhile), and a new container's entrypoint first runs a temporary server on the socket only
 * (listen_addresses '') while it creates the database — steps that connect to it then fail with
 * 'database "app" does not exist'.
 */
export function untilPromoted(dbUser: string, seconds = 600): string {
  const probe = `select case when pg_is_in_recovery() then 'recovery' when current_setting('listen_addresses') = '' then 'initialising' else 'ready' end`;
  return `i=0; until [ "$(psql -h /var/run/postgresql -U ${dbUser} -d postgres -Atc "${probe}" 2>/dev/null)" = ready ]; do i=$((i+1)); [ $i -lt ${seconds} ] || { echo "database still in recovery or initialising after ${seconds} s" >&2; exit 1; }; sleep 1; done`;
}

export class DeploySteps extends pulumi.ComponentResource {
  /** The last step; the rollout depends on it. */
  readonly done: pulumi.Resource;
  readonly roles: command.local.Command;
  readonly backup?: command.local.Command;
  readonly baseBackup?: command.local.Command;
  readonly migrate: command.local.Command;

  constructor(name: string, args: DeployStepsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:DeploySteps", name, {}, opts);
    const dockerEnv: Record<string, string> = args.dockerHost ? { DOCKER_HOST: args.dockerHost } : {};

    // Idempotent: an existing stack converts on its next deploy (the API then rolls onto its own role).
    this.roles = new command.local.Command(
      `${name}-roles`,
      {
        // After a point-in-time restore re-created the container, the server replays WAL read-only for a while: the
        // roles (ALTER ROLE) wait until it is promoted, as the base backup does.
        create: pulumi.output(args.dbContainer).apply((db) =>
          `${shellJoin(["docker", "exec", db, "sh", "-c", untilPromoted(args.dbUser)])} && ${rolesCommand(db, { user: args.dbUser, database: args.dbName })}`),
        environment: pulumi.all([args.ownerPassword, args.apiPassword]).apply(([owner, api]) => ({
          ...dockerEnv,
          [ROLE_PASSWORD_ENV.owner]: owner,
          [ROLE_PASSWORD_ENV.api]: api,
        })),
        triggers: [args.image, args.dbContainerId],
      },
      { parent: this, additionalSecretOutputs: ["environment"] },
    );

    if (args.backup?.enabled) {
      this.backup = preDeployBackup(`${name}-backup`, {
        prefix: args.prefix,
        dbContainer: args.dbContainer,
        image: args.image,
        backup: args.backup,
        dbName: args.dbName,
        dbUser: args.dbUser,
        ...(args.pushgateway ? { pushgateway: args.pushgateway } : {}),
        ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
        projectDir: args.projectDir,
      }, { parent: this, dependsOn: [this.roles] });
    }

    if (args.backup?.wal.enabled) {
      // backup.wal: the stanza (idempotent), then a base backup — full the first time, differential before each deploy —
      // inside the database container, into its WAL repository. Re-runs on a new image and on a new database container.
      // backup.wal.offHost: the stanza in both repositories, and a base backup into each (pgBackRest takes one per
      // repository). The serving member is put on the egress network first if it is not (a member whose networks a
      // standby's failover owns keeps the ones it was created with: ignoreChanges).
      const offHost = args.backup.wal.offHost;
      const exec = (db: string, argv: string[]) => shellJoin(["docker", "exec", "-u", WAL_OS_USER, db, ...pgbackrest(argv)]);
      this.baseBackup = new command.local.Command(
        `${name}-base-backup`,
        {
          create: pulumi.output(args.dbContainer).apply((db) => [
            shellJoin(["docker", "exec", "-u", WAL_OS_USER, db, "sh", "-c", untilPromoted(args.dbUser)]),
            ...(offHost ? [egressConnect(db, walEgressNetwork(args.prefix))] : []),
            exec(db, ["stanza-create"]),
            exec(db, BASE_BACKUP_ARGS),
            ...(offHost ? [exec(db, OFF_HOST_BACKUP_ARGS)] : []),
          ].join(" && ")),
          environment: dockerEnv,
          triggers: [args.image, args.dbContainerId],
        },
        { parent: this, dependsOn: this.backup ? [this.backup] : [this.roles] },
      );
    }

    this.migrate = new command.local.Command(
      `${name}-migrate`,
      {
        // As the owner role. Its password is a Pulumi secret in this command's environment and reaches the container
        // on stdin (PGPASSWORD_FILE=/dev/stdin, through the shell's printf builtin): on no command line and in no
        // container's environment.
        create: pulumi.all([args.backendNetwork, args.image]).apply(([network, image]) =>
          `printf '%s' "$${ROLE_PASSWORD_ENV.owner}" | ` +
          shellJoin([
            ...["docker", "run", "-i", "--rm", "--network", network],
            ...["-e", `PGHOST=${DB_HOST}`, "-e", `PGUSER=${DB_ROLES.owner}`, "-e", `PGDATABASE=${args.dbName}`, "-e", "PGPASSWORD_FILE=/dev/stdin"],
            ...["--label", `${LABEL_STACK}=${args.prefix}`, "--label", `${LABEL_ROLE}=${ROLES.migrate}`],
            ...[image, "node", "dist/api/migrate.js"],
          ]),
        ),
        environment: pulumi.all([args.ownerPassword]).apply(([pw]) => ({ ...dockerEnv, [ROLE_PASSWORD_ENV.owner]: pw })),
        triggers: [args.image],
      },
      { parent: this, dependsOn: [this.roles, this.backup, this.baseBackup].filter((c): c is command.local.Command => c !== undefined), additionalSecretOutputs: ["environment"] },
    );
    this.done = this.migrate;
    this.registerOutputs({});
  }
}

export interface PreDeployBackupArgs {
  prefix: string;
  /** The database container, or on swarm its service. */
  dbContainer: pulumi.Input<string>;
  /** The API image about to be deployed: the backup is filed under its tag and runs again when it changes. */
  image: pulumi.Input<string>;
  backup: NonNullable<StackConfig["backup"]>;
  dbName: string;
  /** docker: the superuser, over the container's local socket; on swarm the client logs in as the owner role. */
  dbUser?: string;
  pushgateway?: pulumi.Input<string>;
  dockerHost?: string;
  projectDir: string;
  /** Target swarm: the backend overlay the client container joins, and the owner role's password (a Pulumi secret). */
  swarm?: { network: pulumi.Input<string>; ownerPassword: pulumi.Input<string> };
}

/**
 * The backup a deploy takes before it migrates: `npm run backup` (the verb, src/backup/verb.ts) as a command resource,
 * run again when the image changes. On swarm with --overlay: the owner's password in the command's environment only.
 */
export function preDeployBackup(name: string, args: PreDeployBackupArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
  const b = args.backup;
  const dockerEnv: Record<string, string> = args.dockerHost ? { DOCKER_HOST: args.dockerHost } : {};
  return new command.local.Command(
    name,
    {
      create: pulumi.all([args.dbContainer, args.image, args.pushgateway, args.swarm?.network]).apply(([db, image, pushgateway, overlay]) =>
        shellJoin(
          backupVerb({
            stack: args.prefix,
            dbContainer: db,
            dir: b.dir,
            keep: b.keep,
            keepWeeks: b.keepWeeks,
            maxAgeDays: b.maxAgeDays,
            verify: b.verify,
            copyTo: b.copyTo,
            imageTag: imageTag(image),
            database: args.dbName,
            ...(args.dbUser ? { user: args.dbUser } : {}),
            ...(pushgateway ? { pushgateway } : {}),
            ...(overlay ? { overlay } : {}),
          }),
        ),
      ),
      dir: args.projectDir,
      environment: args.swarm ? pulumi.output(args.swarm.ownerPassword).apply((pw) => ({ ...dockerEnv, [ROLE_PASSWORD_ENV.owner]: pw })) : dockerEnv,
      triggers: [args.image],
    },
    { ...opts, ...(args.swarm ? { additionalSecretOutputs: ["environment"] } : {}) },
  );
}

/** `docker network connect` unless the container is on the network already (shell; idempotent). */
export function egressConnect(container: string, network: string): string {
  return `{ ${shellJoin(["docker", "inspect", "-f", "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}", container])} | grep -qw -- ${shellJoin([network])} || ${shellJoin(["docker", "network", "connect", network, container])}; }`;
}
