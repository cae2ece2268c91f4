// Unit tests for POST /items validation and the x-request-id arrival log line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ITEM_NAME_MAX, parseItemInput } from "../../src/api/items";
import { requestLogFields } from "../../src/api/request-log";

test("parseItemInput accepts a non-empty name", () => {
  assert.deepEqual(parseItemInput({ name: "widget" }), { ok: true, name: "widget" });
});

test("parseItemInput rejects missing, empty, non-string and too long names", () => {
  for (const body of [undefined, null, "widget", {}, { name: "" }, { name: "  " }, { name: 3 }, { name: "x".repeat(ITEM_NAME_MAX + 1) }]) {
    assert.equal(parseItemInput(body).ok, false, JSON.stringify(body));
  }
});

test("requestLogFields: id, method and path without the query string", () => {
  assert.deepEqual(requestLogFields("abc-1", "GET", "/slow?ms=10"), { id: "abc-1", method: "GET", path: "/slow" });
  assert.deepEqual(requestLogFields(["a", "b"], "POST", "/items"), { id: "a", method: "POST", path: "/items" });
});

test("requestLogFields: nothing without a request id", () => {
  assert.equal(requestLogFields(undefined, "GET", "/health"), undefined);
  assert.equal(requestLogFields("", "GET", "/health"), undefined);
});
