// What the verbs read from a stack: its database container, its engine (dockerHost), whether it is
// production (its environment output or config — never its name) and its backup settings with the
// schema's defaults.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BACKUP_DEFAULTS, walSchema } from "../../stacks/schema";
import { relayImageOf, swarmRefusal, targetFromStack } from "../../src/release/target";

const outputs = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, value]) => [k, { value }]));
const config = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, value]) => [`slipway:${k}`, { value: typeof value === "string" ? value : JSON.stringify(value) }]));

describe("stack target", () => {
  it("reads the container, prefix, dockerHost and backup settings (defaults from the schema)", () => {
    const t = targetFromStack("live", outputs({ dbContainer: "slipway-live-db", environment: "staging" }), config({ environment: "staging", dockerHost: "ssh://deploy@db1", backup: { enabled: true, dir: "/b" } }));
    assert.deepEqual(t, {
      prefix: "slipway-live",
      dbContainer: "slipway-live-db",
      production: false,
      dockerHost: "ssh://deploy@db1",
      backup: { enabled: true, dir: "/b", keep: BACKUP_DEFAULTS.keep, keepWeeks: BACKUP_DEFAULTS.keepWeeks, verify: false, wal: walSchema.parse({}) },
    });
    assert.equal(targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging" }), {}).dockerHost, undefined);
  });

  it("a production stack's backups are verified unless its config says otherwise (the schema's default by environment)", () => {
    const verify = (environment: string, backup: Record<string, unknown>) => targetFromStack("p", outputs({ dbContainer: "x-db", environment }), config({ environment, backup })).backup!.verify;
    assert.equal(verify("production", { enabled: true, dir: "/b" }), true);
    assert.equal(verify("staging", { enabled: true, dir: "/b" }), false);
    assert.equal(verify("production", { enabled: true, dir: "/b", verify: false }), false);
  });

  it("reads the image the last update deployed (restore runs its migrations); none before a deploy", () => {
    assert.equal(targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging", image: "app:v2" }), {}).image, "app:v2");
    assert.equal(targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging" }), {}).image, undefined);
  });

  it("reads the Pushgateway container (monitoring on); none when the output is null (monitoring off)", () => {
    const t = (pushgatewayContainer: unknown) => targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging", pushgatewayContainer }), {}).pushgateway;
    assert.equal(t("x-pushgateway"), "x-pushgateway");
    assert.equal(t(null), undefined);
    assert.equal(targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging" }), {}).pushgateway, undefined);
  });

  it("is production when the deployed environment output or the config says so, whatever the stack is called", () => {
    const prod = (o: Record<string, unknown>, c: Record<string, unknown>, name = "anything") => targetFromStack(name, outputs({ dbContainer: "x-db", ...o }), config(c)).production;
    assert.equal(prod({ environment: "production" }, {}), true);
    assert.equal(prod({}, { environment: "production" }), true);
    assert.equal(prod({ environment: "staging" }, { environment: "production" }), true, "either one is enough");
    assert.equal(prod({ environment: "staging" }, {}, "production"), false, "the name means nothing");
  });

  it("refuses a stack without a database container or an environment, and bad backup settings", () => {
    assert.throws(() => targetFromStack("s", {}, config({ environment: "staging" })), /no dbContainer output: deploy it first.*--db-container/);
    assert.throws(() => targetFromStack("s", outputs({ dbContainer: "x-db" }), {}), /neither an environment output nor slipway:environment/);
    assert.throws(
      () => targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging" }), config({ backup: { enabled: true, dir: "/b", maxAgeDays: 0 } })),
      /stack "s" has invalid backup settings: slipway:backup\.maxAgeDays: /,
    );
  });

  it("reads how the stack declares its database (images.postgres, database.user/name with the schema's defaults): what restore --to-latest rebuilds a lost one from", () => {
    const t = (c: Record<string, unknown>) => targetFromStack("s", outputs({ dbContainer: "x-db", environment: "staging" }), config(c)).database;
    assert.deepEqual(t({ images: { api: "a:1", edge: "e:1", postgres: "slipway/postgres:17-pgbackrest" } }), { image: "slipway/postgres:17-pgbackrest", user: "app", name: "app" });
    assert.deepEqual(t({ images: { postgres: "p:17" }, database: { user: "svc", name: "shop" } }), { image: "p:17", user: "svc", name: "shop" });
    assert.equal(t({}), undefined);
  });
});

it("a stack on target swarm: the database service, its backend overlay and the owner's password (the dbOwnerPassword output) for the backup's client container", () => {
  const t = targetFromStack("sw", outputs({ dbContainer: "slipway-sw-db", environment: "staging", dbOwnerPassword: "Abc123" }), config({ environment: "staging", target: "swarm" }));
  assert.equal(t.dbContainer, "slipway-sw-db");
  assert.deepEqual(t.swarm, { network: "slipway-sw-backend", ownerPassword: "Abc123", taskTimeoutMs: 300_000 });
  assert.equal(targetFromStack("d", outputs({ dbContainer: "slipway-d-db", environment: "staging", dbOwnerPassword: null }), config({ environment: "staging" })).swarm, undefined);
});

it("a swarm stack deployed before the dbOwnerPassword output: deploy it once, says the error", () => {
  assert.throws(
    () => targetFromStack("sw", outputs({ dbContainer: "slipway-sw-db", environment: "staging" }), config({ environment: "staging", target: "swarm" })),
    /stack "sw" runs on target swarm and has no dbOwnerPassword output .*deploy it once/,
  );
});

it("a swarm stack after a deploy: what restore needs of it — the relay's image, the serving release, the one-off tasks' budget", () => {
  const t = targetFromStack(
    "sw",
    outputs({ dbContainer: "slipway-sw-db", environment: "production", dbOwnerPassword: "Abc123", apiContainers: ["slipway-sw-api-b"] }),
    { ...config({ environment: "production", target: "swarm", swarm: { taskTimeoutMs: 90_000 } }), "slipway:images": { value: JSON.stringify({ api: "app:1", edge: "edge:2", postgres: "pg:17" }) } },
  );
  assert.deepEqual(t.swarm, { network: "slipway-sw-backend", ownerPassword: "Abc123", relayImage: "edge:2", apiService: "slipway-sw-api-b", taskTimeoutMs: 90_000 });
});

it("a swarm stack with invalid swarm settings is refused by key, as the deploy refuses it, never run on a default", () => {
  assert.throws(
    () => targetFromStack("sw", outputs({ dbContainer: "slipway-sw-db", environment: "staging", dbOwnerPassword: "Abc123" }), config({ environment: "staging", target: "swarm", swarm: { taskTimeoutMs: "soon" } })),
    /stack "sw" has invalid swarm settings: slipway:swarm\.taskTimeoutMs: /,
  );
});

it("the relay's image of a swarm stack's verbs: images.edge, refused by name without it", () => {
  assert.equal(relayImageOf("sw", "edge:2"), "edge:2");
  for (const missing of [undefined, ""]) assert.throws(() => relayImageOf("sw", missing), /stack "sw": slipway:images\.edge is not set; the relay to the edge's tasks runs that image/);
});

it("a point-in-time restore is refused on a swarm stack, saying what works there", () => {
  assert.match(swarmRefusal("sw", "a point-in-time restore").message, /stack "sw" runs on target swarm, where a point-in-time restore does not work yet .*promote, rollback, backup, restore of a dump \(--file, --from\), maintenance and status do/);
});
