// The hot standby of a stack (database.standby, target docker): a second PostgreSQL container `<prefix>-db-standby`
// with its own volume, seeded by pg_basebackup from the primary through a replication slot and streaming from it
// (src/postgres/standby.ts standbyCommand), with the primary's archiving flags and pgBackRest settings so that, once
// promoted by `npm run failover`, it archives into the same repository. The replication role's password reaches it as
// an uploaded passfile (not in `docker inspect`).
//
// While `<prefix>-db` serves (database.standby.serving: db), two steps run on it: the replication step (role, pg_hba
// line, slot) before the standby is created, and — when database.standby.synchronous says so — synchronous commits,
// switched on only once the standby streams, so a standby that never comes up cannot stop the primary's writes. After
// a failover (serving: standby) this container is the primary and neither step is declared: the stack runs without a
// standby until one is seeded again (RUNBOOK "The database host is gone"). Which member serves changes nothing in the
// container's own declaration: the first `pulumi up` after a failover replaces no database container.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as command from "@pulumi/command";
import type { StackConfig } from "../../stacks/schema";
import { PGDATA, WAL_REPO_PATH } from "../../src/backup/wal";
import { memberNames, REPLICATION_PASSFILE_UPLOAD, REPLICATION_PASSWORD_ENV, replicationCommand, replicationPassfile, standbyCommand, standbyVolume, synchronousCommand } from "../../src/postgres/standby";
import { memberContainerSettings } from "./database";
import { dockerLabels } from "./limits";

export interface StandbyArgs {
  prefix: string;
  imageId: pulumi.Input<string>;
  network: pulumi.Input<string>;
  settings: StackConfig["database"];
  replicationPassword: pulumi.Input<string>;
  /** The primary's server command (archiving flags) and pgBackRest environment, and its WAL repository volume. */
  serverCommand?: string[];
  serverEnvs: string[];
  walRepo?: pulumi.Input<string>;
  /** backup.wal.offHost: the primary's files and network (Database.offHost), so a promoted standby archives off the host too. */
  offHost: { uploads: docker.types.input.ContainerUpload[]; networks: pulumi.Input<string>[] };
  /** `<prefix>-db` and its ID: the primary the steps run on while it serves (re-run when it is re-created). */
  primary: pulumi.Input<string>;
  primaryId: pulumi.Input<string>;
  labels: Record<string, string>;
  production: boolean;
  logs: StackConfig["logs"];
  dockerHost?: string;
}

export class Standby extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: StandbyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Standby", name, {}, opts);
    const { settings } = args;
    const failedOver = settings.standby.serving === "standby";
    const dockerEnv: Record<string, string> = args.dockerHost ? { DOCKER_HOST: args.dockerHost } : {};
    const db = { user: settings.user, database: settings.name };

    // On the primary: the replication role, its pg_hba line and the slot (idempotent; again when the primary is re-created).
    const replication = failedOver
      ? undefined
      : new command.local.Command(
        `${name}-replication`,
        {
          create: pulumi.output(args.primary).apply((primary) => replicationCommand(primary, db)),
          environment: pulumi.output(args.replicationPassword).apply((pw) => ({ ...dockerEnv, [REPLICATION_PASSWORD_ENV]: pw })),
          triggers: [args.primaryId],
        },
        { parent: this, additionalSecretOutputs: ["environment"] },
      );

    const volume = new docker.Volume(`${name}-data`, { name: standbyVolume(args.prefix), labels: dockerLabels(args.labels) }, { parent: this, protect: args.production });
    this.container = new docker.Container(
      `${name}-container`,
      {
        name: memberNames(args.prefix).standby,
        image: args.imageId,
        // The same superuser as the primary's (a physical copy of it): the healthcheck and the failover use its socket.
        envs: [`POSTGRES_USER=${settings.user}`, `POSTGRES_DB=${settings.name}`, ...args.serverEnvs],
        command: standbyCommand(args.serverCommand ?? []),
        uploads: [{ file: REPLICATION_PASSFILE_UPLOAD, content: pulumi.secret(pulumi.output(args.replicationPassword).apply(replicationPassfile)) }, ...args.offHost.uploads],
        volumes: [
          { volumeName: volume.name, containerPath: PGDATA },
          ...(args.walRepo ? [{ volumeName: args.walRepo, containerPath: WAL_REPO_PATH }] : []),
        ],
        // No `db` alias when created; `npm run failover` gives it the alias at run time, and a later `pulumi up` leaves
        // the networks as they are (ignoreChanges), so the alias is never on two members nor taken back.
        networksAdvanced: [{ name: args.network }, ...args.offHost.networks.map((name) => ({ name }))],
        healthcheck: {
          tests: ["CMD-SHELL", `pg_isready -U ${settings.user} -d ${settings.name}`],
          interval: "2s",
          timeout: "5s",
          retries: 30,
          // seeding (pg_basebackup of the whole cluster) runs before the server starts
          // Go's form, as the provider reads it back (600s would diff on every preview)
          startPeriod: "10m0s",
        },
        wait: true,
        waitTimeout: 900,
        ...memberContainerSettings(settings, args.logs, args.labels, args.production),
      },
      {
        parent: this,
        additionalSecretOutputs: ["uploads"],
        protect: args.production,
        ignoreChanges: ["networksAdvanced", "securityOpts", "labels"],
        ...(replication ? { dependsOn: [replication] } : {}),
      },
    );
    this.containerName = this.container.name;

    // synchronous_standby_names on the primary, once this one is healthy and streams (or reset when off).
    if (!failedOver) {
      new command.local.Command(
        `${name}-synchronous`,
        {
          create: pulumi.output(args.primary).apply((primary) => synchronousCommand(primary, { user: settings.user }, settings.standby.synchronous)),
          environment: dockerEnv,
          triggers: [settings.standby.synchronous, args.primaryId, this.container.id],
        },
        { parent: this, dependsOn: [this.container] },
      );
    }
    this.registerOutputs({ containerName: this.containerName });
  }
}
