// PostgreSQL for one stack: a generated password kept as a Pulumi secret end to end (a file in the container, not its
// environment), a named volume for its data, a pg_isready healthcheck, limits, and only the backend network — the
// database is never published to the host. The superuser's password only serves initdb: the deploy's roles step
// clears it (the superuser then logs in on the container's local socket only) and gives the owner and API roles
// (src/vocabulary/database.ts) their own generated passwords, declared here.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import type { StackConfig, WalSettings } from "../../stacks/schema";
import { archivingCommand, knownHostsLine, PGDATA, pgbackrestEnv, sftpKeyFile, WAL_REPO_PATH, WAL_SFTP_KEY_FILE, WAL_SFTP_KNOWN_HOSTS_FILE, walRepoVolume } from "../../src/backup/wal";
import { INITDB_PASSWORD_FILE, INITDB_PASSWORD_FILE_MODE, type InitdbPasswordDelivery } from "../../src/postgres/initdb-password";
import { DB_HOST, LABEL_ENVIRONMENT } from "../../src/vocabulary";
import { containerLimits, dockerLabels, logRotation } from "./limits";

export interface DatabaseArgs {
  prefix: string;
  image: pulumi.Input<string>;
  network: pulumi.Input<string>;
  settings: StackConfig["database"];
  labels: Record<string, string>;
  /** Production: the container and its data volume are protected (RUNBOOK.md says how to change them). */
  production: boolean;
  logs: StackConfig["logs"];
  /**
   * backup.wal when enabled: the server archives its WAL with pgBackRest into a second volume (src/backup/wal.ts).
   * Switching it on or off replaces the container (its command, environment and mounts change), never the data volume.
   */
  wal?: WalSettings;
  /**
   * How the superuser's initdb password reaches the container: "file" (POSTGRES_PASSWORD_FILE, uploaded before it
   * starts), or "env" for a production container created before that, kept as it is (src/postgres/initdb-password.ts).
   */
  passwordDelivery: pulumi.Input<InitdbPasswordDelivery>;
  /**
   * database.standby.enabled: a replication role's password is declared (the deploy's replication step and the standby
   * use it), and the container's network is left as it is after creation (ignoreChanges): the `db` alias is declared
   * here, but once created it belongs to `npm run failover`, which moves it to the promoted standby at run time. Which
   * member serves (database.standby.serving) changes nothing in this declaration, so the first `pulumi up` after a
   * failover leaves the fenced container alone (infra/components/standby.ts says the same of the standby).
   */
  standby?: boolean;
  /**
   * backup.wal.offHost: the private key (slipway:walSftpKey, a secret) and the network with a route out
   * (walEgressNetwork). The key and the server's known_hosts line are files uploaded before the server starts, 0444
   * inside the container (root's: the upload cannot give them to postgres; nothing but PostgreSQL runs in it).
   */
  offHost?: { key: pulumi.Input<string>; network: pulumi.Input<string> };
}

/** The files and network of backup.wal.offHost for a PostgreSQL member (the database and its standby alike). */
export function offHostMember(wal: WalSettings | undefined, offHost: DatabaseArgs["offHost"]): { uploads: docker.types.input.ContainerUpload[]; networks: pulumi.Input<string>[] } {
  if (!wal?.offHost || !offHost) return { uploads: [], networks: [] };
  return {
    uploads: [
      { file: WAL_SFTP_KEY_FILE, content: pulumi.secret(pulumi.output(offHost.key).apply(sftpKeyFile)), permissions: "0444" },
      { file: WAL_SFTP_KNOWN_HOSTS_FILE, content: knownHostsLine(wal.offHost), permissions: "0444" },
    ],
    networks: [offHost.network],
  };
}

/** The database's container (swarm: its service) of the stack with this prefix. */
/**
 * What every PostgreSQL member's container shares (the database and its standby): restart policy, limits, log rotation,
 * the environment label, a stop that lets PostgreSQL shut down cleanly, no privilege gain.
 */
export function memberContainerSettings(settings: StackConfig["database"], logs: StackConfig["logs"], labels: Record<string, string>, production: boolean) {
  return {
    restart: settings.restartPolicy,
    ...containerLimits(settings.limits),
    ...logRotation(logs),
    // The container says which environment's data it holds: restore reads it there (src/restore/environment.ts),
    // so `--environment staging` cannot point at production's database.
    labels: dockerLabels({ ...labels, [LABEL_ENVIRONMENT]: production ? "production" : "staging" }),
    stopTimeout: 30,
    // No privilege gain through setuid binaries: the entrypoint starts as root and only drops to postgres
    // (gosu / setpriv), which no-new-privileges allows. What PostgreSQL does not allow (a read-only root
    // filesystem, no capabilities): README, "Least privilege".
    securityOpts: ["no-new-privileges"],
  };
}

export function databaseName(prefix: string): string {
  return `${prefix}-db`;
}


export class Database extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly password: pulumi.Output<string>;
  /** The password of the owner role (the migrations') and of the API's role, Pulumi secrets. */
  readonly ownerPassword: pulumi.Output<string>;
  readonly apiPassword: pulumi.Output<string>;
  readonly user: string;
  readonly database: string;
  readonly container: docker.Container;
  /** database.standby: the replication role's password (letters and digits, a Pulumi secret). */
  readonly replicationPassword?: pulumi.Output<string>;
  /** The image's ID, the server's command (archiving) and pgBackRest's environment: what the standby member shares. */
  readonly imageId: pulumi.Output<string>;
  readonly serverCommand?: string[];
  readonly serverEnvs: string[];
  /** The WAL repository volume (backup.wal on). */
  readonly walRepo?: pulumi.Output<string>;
  /** backup.wal.offHost: the files and network the standby member shares. */
  readonly offHost: ReturnType<typeof offHostMember>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Database", name, {}, opts);
    const { settings } = args;
    this.user = settings.user;
    this.database = settings.name;

    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, { parent: this });
    this.password = pulumi.secret(password.result);
    // Letters and digits: the roles step refuses anything else rather than quote it (src/postgres/roles.ts).
    const rolePassword = (role: string) => pulumi.secret(new random.RandomPassword(`${name}-${role}-password`, { length: 32, special: false }, { parent: this }).result);
    this.ownerPassword = rolePassword("owner");
    this.apiPassword = rolePassword("api");
    // database.standby: the replication role's (src/postgres/standby.ts), in the standby's passfile, never in an environment.
    if (args.standby) this.replicationPassword = rolePassword("replication");

    const volume = new docker.Volume(
      `${name}-data`,
      { name: `${args.prefix}-pgdata`, labels: dockerLabels(args.labels) },
      // Deleting a production stack's data must be a deliberate act (`pulumi state unprotect`), never a side
      // effect of a diff, a destroy or a changed dockerHost.
      { parent: this, protect: args.production },
    );
    const wal = args.wal?.enabled ? args.wal : undefined;
    // The WAL repository: its own volume, so the archive outlives the data volume (and is protected like it).
    const repo = wal
      ? new docker.Volume(`${name}-wal`, { name: walRepoVolume(args.prefix), labels: dockerLabels(args.labels) }, { parent: this, protect: args.production })
      : undefined;
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    this.imageId = image.imageId;
    // The server's flags (archiving, when on) and pgBackRest's settings: the same for the standby member, so a promoted
    // standby archives into the same repository and a point-in-time restore spans the failover.
    const serverCommand = wal ? archivingCommand(wal) : undefined;
    const serverEnvs = wal ? pgbackrestEnv({ prefix: args.prefix, dbUser: settings.user, wal }) : [];
    if (serverCommand) this.serverCommand = serverCommand;
    this.serverEnvs = serverEnvs;
    if (repo) this.walRepo = repo.name;
    this.offHost = offHostMember(wal, args.offHost);

    this.container = new docker.Container(
      `${name}-container`,
      {
        name: databaseName(args.prefix),
        image: image.imageId,
        envs: pulumi.all([args.passwordDelivery, this.password]).apply(([delivery, pw]) => [
          `POSTGRES_USER=${settings.user}`,
          `POSTGRES_DB=${settings.name}`,
          delivery === "env" ? `POSTGRES_PASSWORD=${pw}` : `POSTGRES_PASSWORD_FILE=${INITDB_PASSWORD_FILE}`,
          ...serverEnvs,
        ]),
        // The file is written into the created container before it starts: in no `docker inspect`, secret in the state.
        uploads: pulumi.output(args.passwordDelivery).apply((delivery) => [
          ...(delivery === "file" ? [{ file: INITDB_PASSWORD_FILE, content: this.password, permissions: INITDB_PASSWORD_FILE_MODE }] : []),
          ...this.offHost.uploads,
        ]),
        ...(serverCommand ? { command: serverCommand } : {}),
        volumes: [
          { volumeName: volume.name, containerPath: PGDATA },
          ...(repo ? [{ volumeName: repo.name, containerPath: WAL_REPO_PATH }] : []),
        ],
        networksAdvanced: [{ name: args.network, aliases: [DB_HOST] }, ...this.offHost.networks.map((name) => ({ name }))],
        healthcheck: {
          tests: ["CMD-SHELL", `pg_isready -U ${settings.user} -d ${settings.name}`],
          interval: "1s",
          timeout: "3s",
          retries: 30,
          startPeriod: "2s",
        },
        wait: true,
        waitTimeout: 120,
        ...memberContainerSettings(settings, args.logs, args.labels, args.production),
      },
      {
        parent: this,
        additionalSecretOutputs: ["envs", "uploads"],
        protect: args.production,
        // Both replace a container, and production's is protected. securityOpts: Docker cannot change it in place;
        // databases created from now on have it, an existing one whenever it is re-created anyway. labels: a database
        // created before the environment label existed keeps its labels (restore then falls back to the stack file /
        // the stack's config, src/restore/policy.ts restoreEnvironment); a new or replaced one carries it.
        ignoreChanges: ["securityOpts", "labels", ...(args.standby ? ["networksAdvanced"] : [])],
      },
    );
    this.containerName = this.container.name;
    this.registerOutputs({ containerName: this.containerName });
  }
}
