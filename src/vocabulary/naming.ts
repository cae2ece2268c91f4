// Names and the revision hash that tie containers to a (stack, service, spec); the labels are in labels.ts.
// The revision is a hash of everything that needs a new container when it changes (not the replica count); secret
// values enter it only through keyedDigest (an HMAC under a per-stack random key), never hashed directly.
import { createHash, createHmac } from "node:crypto";

/** The edge's HAProxy backend the API replicas' slots live in, on both targets: runtime-API addresses are `api/<slot>`. */
export const EDGE_BACKEND = "api";

export function revisionShort(revision: string): string {
  return revision.slice(0, 8);
}

/** `<stack>-<service>-<revisionShort>-<n>`: deterministic, so a re-run finds what an interrupted run left. */
export function containerName(stack: string, service: string, revision: string, replica: number): string {
  return `${stack}-${service}-${revisionShort(revision)}-${replica}`;
}

export function checkName(what: string, value: string): string {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(value)) {
    throw new Error(`${what} "${value}" must be lower-case letters, digits, '_', '.', '-' (it becomes part of container names)`);
  }
  return value;
}

/**
 * The stack's Docker prefix from its database container's name (the `dbContainer` output): `<prefix>-db`, or, after a
 * failover promoted the hot standby, `<prefix>-db-standby` (src/postgres/standby.ts memberNames).
 */
export function prefixOfDbContainer(name: string): string | undefined {
  const m = /^(.+?)-db(-standby)?$/.exec(name);
  return m?.[1];
}

/** Stable hash of a JSON-able value: object keys are sorted so key order does not matter. */
export function revisionOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/**
 * HMAC-SHA256 of a JSON-able value under `key` (hex): changes when the value changes, yet tells nothing about it to
 * whoever lacks the key — a label or a container name built from it cannot confirm a guessed secret offline.
 */
export function keyedDigest(key: string, value: unknown): string {
  if (key.length < 16) throw new Error("keyedDigest: the key must be at least 16 characters");
  return createHmac("sha256", key).update(canonicalJson(value)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The placeholder the Pulumi engine puts in a preview for a value another resource computes at `up`. */
export const PREVIEW_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether `value` holds a value a preview does not know yet (then it is validated, and its hash known, at `up`). */
export function holdsPreviewUnknown(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes(PREVIEW_UNKNOWN);
}
