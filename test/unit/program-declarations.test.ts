// What each stack declares, under Pulumi's mocks (no engine, no Docker): networks, limits,
// restart policies, no published database, the password as a secret, the backup → migrate →
// rollout chain, and a refusal naming stack and key for a bad production config.
import { test } from "node:test";
import assert from "node:assert/strict";
import { declareProgram as declare, type Registered } from "../support/declare";

const byName = (rs: Registered[], name: string) => {
  const r = rs.find((x) => x.name === name);
  assert.ok(r, `resource ${name} declared`);
  return r;
};
/** A secret input arrives under the mocks as {<sig>: <secret sig>, value}. */
const isSecret = (v: unknown) => typeof v === "object" && v !== null && "value" in v && Object.keys(v).some((k) => k.length === 32);

for (const stack of ["staging", "production"]) {
  test(`${stack}: declares the whole service with limits, restart policies and separate networks`, () => {
    const { resources, error } = declare(stack);
    assert.equal(error, undefined);
    const prefix = `slipway-${stack}`;

    const backend = byName(resources, "net-backend");
    assert.equal(backend.inputs.internal, true, "backend network has no route out");
    assert.equal(byName(resources, "net-edge").inputs.name, `${prefix}-edge`);

    const db = byName(resources, "db-container");
    assert.equal(db.inputs.ports, undefined, "the database is never published");
    assert.deepEqual(db.inputs.networksAdvanced.map((n: { name: string }) => n.name), [`${prefix}-backend`]);
    assert.equal(db.inputs.restart, "unless-stopped");
    assert.ok(db.inputs.memory > 0 && db.inputs.cpuQuota > 0 && db.inputs.cpuPeriod === 100_000, "db limits");
    // `cpus` is read back by the provider in another form ("1" → "1.0") and a change replaces the container.
    assert.equal(db.inputs.cpus, undefined, "db CPU limit as a quota (updated in place), not `cpus`");
    assert.match(db.inputs.healthcheck.tests.join(" "), /pg_isready/);
    assert.ok(isSecret(db.inputs.envs), "db env is a secret");
    // The initdb password is a file written into the container before it starts, never in its environment.
    const dbEnv = db.inputs.envs.value as string[];
    assert.ok(dbEnv.includes("POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD"), dbEnv.join(" "));
    assert.ok(!dbEnv.some((e) => e.startsWith("POSTGRES_PASSWORD=")), "no password in the database's environment");
    assert.ok(isSecret(db.inputs.uploads), "the uploaded password file is a secret in the state");
    assert.deepEqual((db.inputs.uploads.value as { file: string; permissions: string }[]).map((u) => [u.file, u.permissions]), [["/run/secrets/POSTGRES_PASSWORD", "0444"]]);
    assert.equal(db.inputs.volumes[0].containerPath, "/var/lib/postgresql/data");
    assert.ok(!db.inputs.volumes[0].hostPath, "named volume, not a bind mount");
    assert.deepEqual(db.inputs.securityOpts, ["no-new-privileges"], "no privilege gain in the database container (ignored on update: README, Least privilege)");
    assert.deepEqual(
      db.inputs.labels.find((l: { label: string }) => l.label === "slipway.environment"),
      { label: "slipway.environment", value: stack },
      "the database container says which environment's data it holds (restore reads it)",
    );

    const holder = byName(resources, "edge-holder");
    assert.equal(holder.inputs.name, `${prefix}-edge`);
    assert.equal(holder.inputs.ports[0].internal, 8080);
    assert.equal(holder.inputs.ports[0].ip, "127.0.0.1");
    assert.deepEqual(holder.inputs.entrypoints, ["sleep"]);
    assert.equal(holder.inputs.volumes, undefined);
    const haproxy = byName(resources, "edge-haproxy");
    assert.equal(haproxy.type, "pulumi-nodejs:dynamic/slipway:EdgeProxy");
    assert.equal(haproxy.inputs.stack, prefix);
    assert.ok(haproxy.inputs.config.includes("server-template api"), "config given to the provider, not bind-mounted");
    assert.ok(haproxy.inputs.config.includes("option httpchk GET /up"), "the edge routes on readiness, not on /health");
    assert.ok(haproxy.inputs.memoryMb > 0 && haproxy.inputs.cpus > 0, "edge limits");

    const replicas = byName(resources, "api-replicas");
    assert.ok(replicas.inputs.replicas >= (stack === "production" ? 2 : 1));
    assert.ok(replicas.inputs.memoryMb > 0 && replicas.inputs.cpus > 0);
    assert.equal(replicas.inputs.restartPolicy, "unless-stopped");
    assert.ok(isSecret(replicas.inputs.env), "API env is a secret");
    const env = (replicas.inputs.env as { value: Record<string, string> }).value;
    assert.equal(env.PGUSER, "slipway_api", "the API runs as its own role, not the superuser");
    assert.equal(env.PGPASSWORD, undefined, "no password in the API's environment");
    assert.ok(!JSON.stringify(env).includes("mock-password"), "no secret value in the API's environment");
    assert.ok(isSecret(replicas.inputs.secrets), "the API's secrets are a secret");
    assert.deepEqual(Object.keys((replicas.inputs.secrets as { value: Record<string, string> }).value), ["PGPASSWORD"], "its password reaches it as a secret file");
    assert.ok(isSecret(replicas.inputs.secretsKey), "the key of the secrets' digest is a secret");
    assert.deepEqual(replicas.inputs.healthcheck.test, ["CMD", "bash", "dist/api/healthcheck.sh", "/up", String(replicas.inputs.healthcheck.timeoutMs - 500)], "Docker checks the readiness path, within its budget");
    assert.deepEqual(replicas.inputs.edge, { stack: prefix, backend: "api" });

    const roles = byName(resources, "deploy-roles");
    assert.match(roles.inputs.create, new RegExp(`docker exec -i ${prefix}-db psql .* --username app --dbname app$`), "the roles step runs as the superuser on the local socket");
    assert.ok(!String(roles.inputs.create).includes("mock-password"), "no password on the roles step's command line");
    assert.ok(isSecret(roles.inputs.environment), "the roles step's environment is a secret");

    const migrate = byName(resources, "deploy-migrate");
    assert.match(migrate.inputs.create, /^printf '%s' "\$SLIPWAY_DB_OWNER_PASSWORD" \| docker run -i --rm --network slipway-[a-z]+-backend .* -e PGUSER=slipway_owner .* -e PGPASSWORD_FILE=\/dev\/stdin .*dist\/api\/migrate\.js$/);
    assert.ok(!String(migrate.inputs.create).includes("mock-password"), "no password on the command line");
    assert.ok(isSecret(migrate.inputs.environment), "the command's environment is a secret");

    const backup = resources.find((r) => r.name === "deploy-backup");
    if (stack === "production") {
      assert.ok(backup, "production takes a backup before migrating, proven by a restore (backup.verify defaults to true there)");
      assert.match(backup.inputs.create, /^node --import tsx src\/cli\/backup\.ts --stack slipway-production --db-container slipway-production-db --dir \/var\/backups\/slipway --keep 14 --keep-weeks 4 --verify --image-tag 0000000000000 --database app --user app$/);
    } else {
      assert.equal(backup, undefined, "staging has backups off");
    }
  });
}

test("production refuses a mutable image tag, naming the stack and the key", () => {
  const { error } = declare("production", {
    "slipway:images": { api: "slipway/api:latest", edge: "slipway/edge:0000000000000", postgres: "slipway-local/postgres:17" },
  });
  assert.match(error ?? "", /stack "production" has invalid configuration/);
  assert.match(error ?? "", /slipway:images\.api: "slipway\/api:latest" is a mutable reference/);
});

test("a wrong type in staging is refused with the key path", () => {
  const { error } = declare("staging", { "slipway:edge": { port: "eighty" } });
  assert.match(error ?? "", /stack "staging".*\n\s+- slipway:edge\.port: /);
});

test("dockerHost sends every Docker object of the stack to that engine", () => {
  const { resources, error } = declare("staging", { "slipway:dockerHost": "ssh://deploy@docker-host.example" });
  assert.equal(error, undefined);
  const provider = byName(resources, "docker-host");
  assert.equal(provider.type, "pulumi:providers:docker");
  assert.equal(provider.inputs.host, "ssh://deploy@docker-host.example");
  for (const name of ["net-edge", "net-backend", "db-container", "db-data", "edge-holder"]) {
    assert.match(byName(resources, name).provider ?? "", /::docker-host::/, `${name} uses the stack's engine`);
  }
  assert.equal(byName(resources, "api-replicas").inputs.dockerHost, "ssh://deploy@docker-host.example");
  assert.equal(byName(resources, "edge-haproxy").inputs.dockerHost, "ssh://deploy@docker-host.example");
  assert.match(byName(resources, "deploy-migrate").inputs.environment.value?.DOCKER_HOST ?? "", /ssh:\/\/deploy@docker-host/);
});

test("backup.wal: the database archives through pgBackRest into a second volume; a base backup step before the migrations", () => {
  const off = declare("production");
  assert.equal(off.error, undefined);
  assert.equal(off.resources.find((r) => r.name === "db-wal"), undefined, "no repository volume while archiving is off");
  assert.equal(byName(off.resources, "db-container").inputs.command, undefined, "the image's own command while off: existing stacks unchanged");

  const { resources, error } = declare("production", {
    "slipway:backup": { enabled: true, dir: "/var/backups/slipway", wal: { enabled: true, archiveTimeoutSeconds: 30 } },
  });
  assert.equal(error, undefined);
  const repo = byName(resources, "db-wal");
  assert.equal(repo.inputs.name, "slipway-production-pgwal");
  const db = byName(resources, "db-container");
  assert.deepEqual(db.inputs.command, ["postgres", "-c", "archive_mode=on", "-c", "archive_command=pgbackrest archive-push %p", "-c", "archive_timeout=30"]);
  assert.deepEqual(db.inputs.volumes.map((v: { containerPath: string }) => v.containerPath), ["/var/lib/postgresql/data", "/var/lib/pgbackrest"]);
  assert.ok((db.inputs.envs.value as string[]).includes("PGBACKREST_STANZA=slipway-production"));
  const base = byName(resources, "deploy-base-backup");
  assert.match(base.inputs.create, /pg_is_in_recovery[\s\S]* && docker exec -u postgres slipway-production-db pgbackrest stanza-create && docker exec -u postgres slipway-production-db pgbackrest backup --type=diff$/);
});

test("backup.wal.offHost: an egress network only the database is on, the key and known host as secret files, base backups into both repositories; no key, refused by name", () => {
  const offHost = { host: "backup.example.com", user: "pgbackup", path: "/srv/pgbackrest", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5" };
  const backup = { enabled: true, dir: "/var/backups/slipway", wal: { enabled: true, offHost } };
  const missing = declare("production", { "slipway:backup": backup });
  assert.match(missing.error ?? "", /slipway:backup\.wal\.offHost needs slipway:walSftpKey/);
  const { resources, error } = declare("production", { "slipway:backup": backup, "slipway:walSftpKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----" });
  assert.equal(error, undefined);
  const egress = byName(resources, "net-db-egress");
  assert.equal(egress.inputs.name, "slipway-production-db-egress");
  assert.notEqual(egress.inputs.internal, true, "a route out");
  const db = byName(resources, "db-container");
  assert.deepEqual(db.inputs.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-production-backend", "slipway-production-db-egress"]);
  for (const c of resources.filter((r) => r.type === "docker:index/container:Container" && r.name !== "db-container")) {
    assert.ok(!JSON.stringify(c.inputs.networksAdvanced ?? []).includes("db-egress"), `${c.name} is not on the egress network`);
  }
  const uploads = JSON.stringify(db.inputs.uploads);
  assert.match(uploads, /\/run\/slipway\/wal-sftp\.key/);
  assert.match(uploads, /backup\.example\.com ssh-ed25519 AAAA/);
  assert.ok(!(db.inputs.envs.value as string[]).some((e) => e.includes("PRIVATE KEY")), "the key is in no environment variable");
  const base = byName(resources, "deploy-base-backup");
  assert.match(base.inputs.create, /docker network connect slipway-production-db-egress slipway-production-db; } && .*stanza-create && .*backup --type=diff && .*backup --type=diff --repo=2$/);
});

