// Unit tests for tools/bake.ts, the reader of docker-bake.hcl for engines without buildx, and for the
// targets and tags the committed docker-bake.hcl describes (tools/images.sh and CI build from it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { dockerBuildArgs, loadBake, parseHcl, resolveBake } from "../../tools/bake";

const env = { TAG: "0123456789ab", GIT_SHA: "0123456789abcdef0123456789abcdef01234567", APP_VERSION: "1.2.3",
  NODE_IMAGE: "slipway-local/node:20", HAPROXY_IMAGE: "slipway-local/haproxy:3.0" };

test("docker-bake.hcl: prod, abrupt, edge tagged <tag> and sha-<git sha>; dev tagged dev; base images as args", () => {
  const def = loadBake(["all"], env);
  assert.deepEqual(Object.keys(def.target).sort(), ["abrupt", "dev", "edge", "postgres", "prod"]);
  const { prod, abrupt, edge, dev } = def.target;
  assert.deepEqual(prod.tags, ["slipway/api:0123456789ab", `slipway/api:sha-${env.GIT_SHA}`]);
  assert.deepEqual(prod.args, { NODE_IMAGE: "slipway-local/node:20", APP_VERSION: "1.2.3", TEST_ROUTES: "false" });
  assert.equal(prod.target, "prod");
  assert.equal(prod.dockerfile, "images/api/Dockerfile");
  assert.deepEqual(abrupt.tags, ["slipway/api:0123456789ab-abrupt", `slipway/api:sha-${env.GIT_SHA}-abrupt`]);
  assert.equal(abrupt.args.SHUTDOWN_MODE, "abrupt");
  assert.equal(abrupt.args.APP_VERSION, "1.2.3");
  assert.equal(abrupt.args.TEST_ROUTES, "true", "the abrupt variant is test-only: it holds requests open with /slow");
  assert.equal(abrupt.target, "prod");
  assert.deepEqual(edge.tags, ["slipway/edge:0123456789ab", `slipway/edge:sha-${env.GIT_SHA}`]);
  assert.deepEqual(edge.args, { HAPROXY_IMAGE: "slipway-local/haproxy:3.0" });
  assert.equal(dev.target, "dev");
  assert.deepEqual(dev.tags, ["slipway/api:dev"]);
  assert.equal(def.target._api, undefined, "the _api base target is not a build");
  // PostgreSQL + pgBackRest: tagged by the PostgreSQL major, never by the commit (a routine deploy keeps the database container).
  assert.deepEqual(def.target.postgres.tags, ["slipway/postgres:17-pgbackrest"]);
  assert.deepEqual(def.target.postgres.args, { POSTGRES_IMAGE: "postgres:17-bookworm" });
  assert.deepEqual(loadBake(["postgres"], { POSTGRES_IMAGE: "slipway-local/postgres:17" }).target.postgres.args, { POSTGRES_IMAGE: "slipway-local/postgres:17" });
});

test("docker-bake.hcl: defaults are the official base images; the default group is prod + edge", () => {
  const def = loadBake(["default"], {});
  assert.deepEqual(Object.keys(def.target), ["prod", "edge"]);
  assert.equal(def.target.prod.args.NODE_IMAGE, "node:20-bookworm-slim");
  assert.equal(def.target.edge.args.HAPROXY_IMAGE, "haproxy:3.0");
  assert.deepEqual(def.group.default, { targets: ["prod", "edge"] });
  assert.equal(def.target.prod.args.TEST_ROUTES, "false", "what CI builds and pushes carries no test-only route");
  assert.equal(loadBake(["prod"], { TEST_ROUTES: "true" }).target.prod.args.TEST_ROUTES, "true", "tools/images.sh's test image");
});

test("the registry prefix is a variable (CI pushes to its registry)", () => {
  const def = loadBake(["prod"], { ...env, API_REPO: "ghcr.io/o/r/api" });
  assert.deepEqual(def.target.prod.tags, ["ghcr.io/o/r/api:0123456789ab", `ghcr.io/o/r/api:sha-${env.GIT_SHA}`]);
});

test("docker build arguments: -f, --target, build args, tags, context last", () => {
  const def = loadBake(["abrupt"], env);
  const args = dockerBuildArgs(def.target.abrupt, "/repo");
  assert.deepEqual(args, ["-f", "/repo/images/api/Dockerfile", "--target", "prod",
    "--build-arg", "NODE_IMAGE=slipway-local/node:20", "--build-arg", "APP_VERSION=1.2.3", "--build-arg", "TEST_ROUTES=true",
    "--build-arg", "SHUTDOWN_MODE=abrupt",
    "-t", "slipway/api:0123456789ab-abrupt", "-t", `slipway/api:sha-${env.GIT_SHA}-abrupt`, "/repo"]);
});

test("parser: comments, lists, maps, bare variable references, inherits chains", () => {
  const hcl = `
    // line comment
    variable "V" { default = "x" }  # trailing
    /* block
       comment */
    target "a" {
      args = { A = V, "B" = "\${V}-b", }
      tags = ["t:\${V}",
        "u"]
    }
    target "b" { inherits = ["a"]
      args = { B = "over" }
    }`;
  const def = resolveBake(parseHcl(hcl), { V: "env" }, ["b"]);
  assert.deepEqual(def.target.b.args, { A: "env", B: "over" });
  assert.deepEqual(def.target.b.tags, ["t:env", "u"]);
});

test("parser: what is outside the subset is an error naming the line, never a guess", () => {
  assert.throws(() => parseHcl('target "a" {\n  tags = [lower("X")]\n}'), /:2: function calls/);
  assert.throws(() => resolveBake(parseHcl('target "a" {\n platforms = ["linux/amd64"]\n}'), {}, ["a"]), /attribute "platforms"/);
  assert.throws(() => resolveBake(parseHcl('target "a" { tags = ["${NOPE}"] }'), {}, ["a"]), /unknown variable NOPE/);
  assert.throws(() => resolveBake(parseHcl('target "a" { inherits = ["a"] }'), {}, ["a"]), /inherits itself/);
  assert.throws(() => resolveBake(parseHcl('target "a" { }'), {}, ["b"]), /no target "b"/);
  assert.throws(() => parseHcl('target "a" {\n  tags = ["x\n'), /:2: unterminated string/);
});
