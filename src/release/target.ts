// What the backup/restore verbs need to know about a deployed stack, read from its Pulumi outputs
// and config: the database container, the Docker engine it runs on (`dockerHost`), the Docker name
// prefix its backups are filed under, whether it is production (its `environment`, never its name),
// and its backup settings with the defaults of stacks/schema.ts applied.
import { backupSchema, databaseSchema, swarmSchema, withBackupDefaults, type BackupSettings } from "../../stacks/schema";
import { prefixOfDbContainer } from "../vocabulary";
import { overlayName } from "../swarm/spec";
import { selectStack } from "./stack";
import { IMAGES_KEY, objectOf } from "./history";

export interface StackTarget {
  /** The stack's Docker name prefix (slipway-<stack>); its backups are filed under it. */
  prefix: string;
  dbContainer: string;
  /** The `environment` output (what was deployed) or config says production; either one is enough. */
  production: boolean;
  /** `slipway:dockerHost`; undefined = the local engine / DOCKER_HOST, as the program does it */
  dockerHost?: string;
  /** `slipway:backup`, parsed (defaults applied); undefined when the stack has no backup section */
  backup?: BackupSettings;
  /** The `pushgatewayContainer` output (monitoring on): where the backup verb pushes its figures */
  pushgateway?: string;
  /** The `image` output: the API image the last update deployed (restore runs its migrations); undefined before a deploy */
  image?: string;
  /** How the stack declares its database (images.postgres, database.user/name): what restore --to-latest rebuilds a lost one from */
  database?: { image: string; user: string; name: string };
  /** `slipway:walSftpKey` (a secret) with backup.wal.offHost: what restore --to-latest reads the off-host repository with */
  walSftpKey?: string;
  /**
   * `slipway:target: swarm`: the database is the service `dbContainer` names, reached from the manager through a client
   * container on the backend overlay as the owner role (src/swarm/db-client.ts; its password the `dbOwnerPassword` output).
   */
  swarm?: SwarmAccess;
}

/** How the verbs reach a swarm stack's database, edge and serving release from the manager. */
export interface SwarmAccess {
  /** The backend overlay (attachable) the database service is on. */
  network: string;
  /** The owner role's password (the `dbOwnerPassword` output). */
  ownerPassword: string;
  /** `images.edge`: the relay to the edge tasks runs it; undefined when the stack file has none. */
  relayImage?: string;
  /** The serving release's service (the `apiContainers` output); undefined before a deploy. */
  apiService?: string;
  /** `slipway:swarm.taskTimeoutMs` (its default applied): how long a one-off task may take. */
  taskTimeoutMs: number;
}

/** The image the verbs' relay to a swarm stack's edge tasks runs (`images.edge`); refused, saying why, when the stack file has none. */
export function relayImageOf(stackName: string, image: unknown): string {
  if (typeof image !== "string" || image === "") throw new Error(`stack "${stackName}": ${IMAGES_KEY}.edge is not set; the relay to the edge's tasks runs that image`);
  return image;
}

/** Stack outputs and `slipway:` config values as the Automation API returns them (objects as JSON text). */
export type Values = Record<string, { value: unknown } | undefined>;

/** What restore says of a stack on `slipway:target: swarm`: the database's container is a Swarm task on another node. */
export function swarmRefusal(stackName: string, what: string): Error {
  return new Error(`stack "${stackName}" runs on target swarm, where ${what} does not work yet (the database and the edge are Swarm tasks on other nodes than the manager; README "Target swarm"); promote, rollback, backup, restore of a dump (--file, --from), maintenance and status do`);
}

/** A config object value as the Automation API returns it: JSON text, or already an object. */
const json = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : v);

/** Pure: the target from a stack's outputs and config; errors say what to do. */
export function targetFromStack(stackName: string, outputs: Values, config: Values): StackTarget {
  const db = outputs.dbContainer?.value;
  if (typeof db !== "string") {
    throw new Error(`stack "${stackName}" has no dbContainer output: deploy it first (npm run promote -- --stack ${stackName} ...) or pass --db-container`);
  }
  const environments = [outputs.environment?.value, config["slipway:environment"]?.value].filter((v) => v !== undefined);
  if (environments.length === 0) {
    throw new Error(`stack "${stackName}" has neither an environment output nor slipway:environment in its config, so it is not known whether it is production; deploy it, or pass --db-container with --environment`);
  }
  const dockerHost = config["slipway:dockerHost"]?.value;
  const pushgateway = outputs.pushgatewayContainer?.value;
  const backupRaw = config["slipway:backup"]?.value;
  let backup: BackupSettings | undefined;
  if (backupRaw !== undefined) {
    const parsed = backupSchema.safeParse(typeof backupRaw === "string" ? JSON.parse(backupRaw) : backupRaw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `slipway:backup${i.path.map((p) => `.${String(p)}`).join("")}: ${i.message}`);
      throw new Error(`stack "${stackName}" has invalid backup settings: ${issues.join("; ")}`);
    }
    backup = withBackupDefaults(parsed.data, environments.includes("production") ? "production" : "staging");
  }
  const images = objectOf(config[IMAGES_KEY]);
  const database = databaseSchema.safeParse(json(config["slipway:database"]?.value) ?? {});
  return {
    prefix: prefixOfDbContainer(db) ?? db,
    dbContainer: db,
    production: environments.includes("production"),
    ...(typeof dockerHost === "string" && dockerHost !== "" ? { dockerHost } : {}),
    ...(backup ? { backup } : {}),
    ...(typeof pushgateway === "string" && pushgateway !== "" ? { pushgateway } : {}),
    ...(typeof outputs.image?.value === "string" ? { image: outputs.image.value } : {}),
    ...(typeof images?.postgres === "string" && database.success ? { database: { image: images.postgres, user: database.data.user, name: database.data.name } } : {}),
    ...(backup?.wal.offHost && typeof config["slipway:walSftpKey"]?.value === "string" ? { walSftpKey: config["slipway:walSftpKey"].value } : {}),
    ...(config["slipway:target"]?.value === "swarm" ? { swarm: swarmAccess(stackName, db, outputs, config) } : {}),
  };
}

function swarmAccess(stackName: string, dbService: string, outputs: Values, config: Values): SwarmAccess {
  const password = outputs.dbOwnerPassword?.value;
  if (typeof password !== "string" || password === "") {
    throw new Error(`stack "${stackName}" runs on target swarm and has no dbOwnerPassword output (deployed by an older slipway): deploy it once (npm run promote -- --stack ${stackName} ...) and retry`);
  }
  const swarm = swarmSchema.safeParse(json(config["slipway:swarm"]?.value) ?? {});
  if (!swarm.success) {
    const issues = swarm.error.issues.map((i) => `slipway:swarm${i.path.map((p) => `.${String(p)}`).join("")}: ${i.message}`);
    throw new Error(`stack "${stackName}" has invalid swarm settings: ${issues.join("; ")}`);
  }
  const edge = objectOf(config[IMAGES_KEY])?.edge;
  const services = outputs.apiContainers?.value;
  const apiService = Array.isArray(services) && typeof services[0] === "string" ? services[0] : undefined;
  return {
    network: overlayName(prefixOfDbContainer(dbService) ?? dbService, "backend"),
    ownerPassword: password,
    ...(typeof edge === "string" && edge !== "" ? { relayImage: edge } : {}),
    ...(apiService ? { apiService } : {}),
    taskTimeoutMs: swarm.data.taskTimeoutMs,
  };
}

export async function stackTarget(stackName: string): Promise<StackTarget> {
  const stack = await selectStack(stackName).catch((err: Error) => {
    throw new Error(`no Pulumi stack "${stackName}" here (${err.message.split("\n")[0]}); pass --db-container to name the database yourself`);
  });
  return targetFromStack(stackName, await stack.outputs(), await stack.getAllConfig());
}
