// Unit tests for reading tools/images.sh output (test/support/docker-images.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseImageRefs } from "../support/docker-images";

const full = [
  "DEBIAN_IMAGE=slipway-local/debian:trixie",
  "NODE_IMAGE=slipway-local/node:20",
  "POSTGRES_IMAGE=slipway-local/postgres:17",
  "HAPROXY_IMAGE=slipway-local/haproxy:3.0",
  "API_IMAGE=slipway/api:abc",
  "API_ABRUPT_IMAGE=slipway/api:abc-abrupt",
  "EDGE_IMAGE=slipway/edge:abc",
  "POSTGRES_WAL_IMAGE=slipway/postgres:17-pgbackrest",
].join("\n");

test("parses every KEY=ref line", () => {
  const refs = parseImageRefs(`${full}\n`);
  assert.equal(refs.postgres, "slipway-local/postgres:17");
  assert.equal(refs.apiAbrupt, "slipway/api:abc-abrupt");
  assert.equal(refs.edge, "slipway/edge:abc");
});

test("names the refs that are missing", () => {
  assert.throws(() => parseImageRefs("DEBIAN_IMAGE=x\n"), /node.*postgres/);
});
