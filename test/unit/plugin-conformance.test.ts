// The parts of the plugin conformance check (test/e2e/plugin-conformance.test.ts) that need no
// built plugin: the official-schema fixtures are complete and exactly a trim, their provenance is
// recorded, the allow-list in tools/toolchain/PLUGINS.md is well-formed, the comparison catches
// each kind of difference, and the compared scope covers every @pulumi/{docker,command,random}
// class or function that the program in infra/ uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  compareSchemas,
  fixturesDir,
  readAllowList,
  readFixture,
  repoRoot,
  SCOPES,
  trimSchema,
  type PackageSchema,
  type PluginScope,
} from "../../tools/toolchain/conformance/schema";

test("each fixture holds the scope's resources, functions and every type they reach, and is its own trim", () => {
  for (const scope of SCOPES) {
    const fixture = readFixture(scope);
    assert.equal(fixture.name, scope.plugin);
    assert.deepEqual(Object.keys(fixture.resources ?? {}).sort(), [...scope.resources].sort(), `${scope.plugin}: resources`);
    assert.deepEqual(Object.keys(fixture.functions ?? {}).sort(), [...scope.functions].sort(), `${scope.plugin}: functions`);
    // trimSchema throws on a referenced type that is missing; the same content comes back.
    assert.deepEqual(trimSchema(fixture, scope), fixture, `${scope.plugin}: the fixture is not exactly the trim of itself`);
    assert.deepEqual(compareSchemas(fixture, fixture, scope), [], `${scope.plugin}: a schema differs from itself`);
  }
});

test("the fixtures README records each source commit and sha256, and every fixture file is one of SCOPES", () => {
  const readme = readFileSync(join(fixturesDir, "README.md"), "utf8");
  for (const scope of SCOPES) {
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${scope.plugin}-${scope.version}.json\``));
    assert.ok(row, `README row for ${scope.plugin}-${scope.version}.json`);
    for (const fact of [scope.upstream.repo, scope.upstream.tag, scope.upstream.commit, scope.upstream.path, scope.upstream.sha256]) {
      assert.ok(row.includes(fact), `README row for ${scope.plugin} names ${fact}`);
    }
  }
  const files = readdirSync(fixturesDir).filter((f) => f.endsWith(".json")).sort();
  assert.deepEqual(files, SCOPES.map((s) => `${s.plugin}-${s.version}.json`).sort());
});

test("the allow-list in PLUGINS.md: one row per difference, each with a reason, ids in the comparison's form", () => {
  const rows = readAllowList();
  assert.ok(rows.length > 0 && rows.length <= 15, `a short allow-list (${rows.length} rows)`);
  const ids = rows.map((r) => `${r.plugin} ${r.id}`);
  assert.equal(new Set(ids).size, ids.length, "no duplicate rows");
  for (const r of rows) {
    assert.match(r.id, /^[\w:/.[\]{}-]+: (only ours|only upstream|type|secret|willReplaceOnChanges|replaceOnChanges|const|default|defaultInfo|enum|required|required input|required output|updates in place)$/, r.id);
    assert.ok(r.id.startsWith(`${r.plugin}:`), `${r.id} belongs to ${r.plugin}`);
    assert.ok(r.reason.length >= 10, `${r.id} says why`);
  }
  assert.ok(!rows.some((r) => r.id.includes("willReplaceOnChanges") || r.id.includes("replaceOnChanges")), "replace-on-change differences are aligned, never allowed");
});

function tinySchema(mutate: (s: PackageSchema) => void = () => {}): PackageSchema {
  const s: PackageSchema = {
    name: "docker",
    config: { variables: { host: { type: "string", defaultInfo: { environment: ["DOCKER_HOST"] } } } },
    provider: { inputProperties: { host: { type: "string" } } },
    resources: {
      "docker:index/container:Container": {
        inputProperties: {
          image: { type: "string", willReplaceOnChanges: true },
          envs: { type: "array", items: { type: "string" }, willReplaceOnChanges: true },
          healthcheck: { $ref: "#/types/docker:index/ContainerHealthcheck:ContainerHealthcheck" },
          logDriver: { $ref: "#/types/docker:index/LogDriver:LogDriver" },
        },
        requiredInputs: ["image"],
        properties: { image: { type: "string" }, password: { type: "string", secret: true } },
        required: ["image"],
      },
    },
    types: {
      "docker:index/ContainerHealthcheck:ContainerHealthcheck": {
        type: "object",
        properties: { tests: { type: "array", items: { type: "string" } }, retries: { type: "integer" } },
        required: ["tests"],
      },
      "docker:index/LogDriver:LogDriver": { type: "string", enum: [{ value: "json-file" }, { value: "local" }] },
    },
  };
  mutate(s);
  return s;
}

const tinyScope: PluginScope = { ...SCOPES[0], resources: ["docker:index/container:Container"], functions: [] };
const container = (s: PackageSchema) => s.resources?.["docker:index/container:Container"] as NonNullable<PackageSchema["resources"]>[string];
const types = (s: PackageSchema) => s.types as NonNullable<PackageSchema["types"]>;

test("the comparison reports every kind of difference, once, with where it was seen", () => {
  const ids = (mutate: (s: PackageSchema) => void) => compareSchemas(tinySchema(), tinySchema(mutate), tinyScope).map((d) => d.id);
  assert.deepEqual(ids(() => {}), []);
  assert.deepEqual(
    ids((s) => {
      container(s).inputProperties!.healthcheck.willReplaceOnChanges = true;
    }),
    ["docker:index/container:Container.healthcheck: willReplaceOnChanges"],
  );
  assert.deepEqual(
    ids((s) => {
      container(s).properties!.password.secret = false;
    }),
    ["docker:index/container:Container.password: secret"],
  );
  assert.deepEqual(
    ids((s) => {
      container(s).inputProperties!.envs.items = { type: "integer" };
    }),
    ["docker:index/container:Container.envs: type"],
  );
  assert.deepEqual(
    ids((s) => {
      types(s)["docker:index/ContainerHealthcheck:ContainerHealthcheck"].properties!.retries = { type: "string" };
      types(s)["docker:index/ContainerHealthcheck:ContainerHealthcheck"].required = [];
    }),
    [
      "docker:index/ContainerHealthcheck:ContainerHealthcheck.retries: type",
      "docker:index/ContainerHealthcheck:ContainerHealthcheck.tests: required",
    ],
  );
  assert.deepEqual(
    ids((s) => {
      delete container(s).inputProperties!.envs;
      container(s).inputProperties!.envVars = { type: "array", items: { type: "string" } };
    }),
    ["docker:index/container:Container.envVars: only ours", "docker:index/container:Container.envs: only upstream"],
  );
  assert.deepEqual(
    ids((s) => {
      container(s).requiredInputs = [];
    }),
    ["docker:index/container:Container.image: required input"],
  );
  assert.deepEqual(
    ids((s) => {
      types(s)["docker:index/LogDriver:LogDriver"].enum = [{ value: "json-file" }];
    }),
    ["docker:index/LogDriver:LogDriver: enum"],
  );
  assert.deepEqual(
    ids((s) => {
      s.config!.variables!.host.defaultInfo = undefined;
      s.provider!.inputProperties!.host.secret = true;
    }),
    ["pulumi:providers:docker.host: secret", "docker:config.host: defaultInfo"],
  );
  // Explicit enum names equal to the derived ones, and an absent provider vs `{}`, are no difference.
  const named = tinySchema((s) => {
    types(s)["docker:index/LogDriver:LogDriver"].enum = [{ name: "Json-file", value: "json-file" }, { name: "Local", value: "local" }];
  });
  assert.deepEqual(compareSchemas(tinySchema(), named, tinyScope), []);
  const noProvider = (s: PackageSchema) => {
    delete s.provider;
  };
  assert.deepEqual(compareSchemas(tinySchema((s) => (s.provider = {})), tinySchema(noProvider), tinyScope), []);
  // A property present in inputs, outputs and state is one difference seen in three places.
  const inThree = compareSchemas(
    tinySchema((s) => {
      container(s).stateInputs = { properties: { image: { type: "string" } } };
    }),
    tinySchema((s) => {
      container(s).inputProperties!.image.type = "integer";
      container(s).properties!.image.type = "integer";
      container(s).stateInputs = { properties: { image: { type: "integer" } } };
    }),
    tinyScope,
  );
  assert.deepEqual(inThree.map((d) => [d.id, d.where]), [["docker:index/container:Container.image: type", ["inputs", "outputs", "state"]]]);
});

/** `import * as X from "@pulumi/<pkg>"` aliases and the members used through them, in one source file. */
function usedMembers(source: string): { plugin: string; member: string }[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const used: { plugin: string; member: string }[] = [];
  for (const m of code.matchAll(/import\s+\*\s+as\s+(\w+)\s+from\s+"@pulumi\/(docker|command|random)"/g)) {
    const [, alias, plugin] = m;
    for (const u of code.matchAll(new RegExp(`\\b${alias}\\.((?:local\\.|remote\\.)?[A-Za-z]\\w*)`, "g"))) {
      if (u[1] === "types" || u[1].startsWith("types.")) continue;
      used.push({ plugin, member: u[1].replace(/(Args|State)$/, "") });
    }
  }
  for (const m of code.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s+"@pulumi\/(docker|command|random)"/g)) {
    for (const name of m[1].split(",").map((n) => n.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0]).filter(Boolean)) {
      used.push({ plugin: m[2], member: name.replace(/(Args|State)$/, "") });
    }
  }
  return used;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("the compared scope covers every class and function of the three packages that infra/ uses", () => {
  const uncovered = new Set<string>();
  let seen = 0;
  for (const file of tsFiles(join(repoRoot, "infra"))) {
    for (const { plugin, member } of usedMembers(readFileSync(file, "utf8"))) {
      seen++;
      const scope = SCOPES.find((s) => s.plugin === plugin) as PluginScope;
      if (!(member in scope.classes)) uncovered.add(`${plugin}.${member} (${file.slice(repoRoot.length + 1)})`);
    }
  }
  assert.ok(seen > 0, "infra/ uses the providers");
  assert.deepEqual(
    [...uncovered],
    [],
    "add these to SCOPES in tools/toolchain/conformance/schema.ts (and re-trim the fixture with tools/toolchain/trim-schema.ts)",
  );
  // Every class the scope names maps to a token the fixture holds (or the provider).
  for (const scope of SCOPES) {
    const fixture = readFixture(scope);
    for (const [cls, token] of Object.entries(scope.classes)) {
      const known = token === `pulumi:providers:${scope.plugin}` || fixture.resources?.[token] || fixture.functions?.[token];
      assert.ok(known, `${scope.plugin}.${cls} → ${token} is in the fixture`);
    }
  }
});

test("the usage scan sees namespace, nested and named imports", () => {
  const src = `
    import * as docker from "@pulumi/docker";
    import * as command from "@pulumi/command";
    import { RandomPassword, type RandomPasswordArgs } from "@pulumi/random";
    // docker.Service in a comment is not a use
    const c = new docker.Container("c", {} as docker.ContainerArgs);
    const h: docker.types.input.ContainerHealthcheck = { tests: [] };
    command.local.runOutput({ command: "true" });
    new docker.Service("s", {});
  `;
  assert.deepEqual(
    usedMembers(src).map((u) => `${u.plugin}.${u.member}`).sort(),
    ["command.local.runOutput", "docker.Container", "docker.Container", "docker.Service", "random.RandomPassword", "random.RandomPassword"].sort(),
  );
});
