// Validates the body of POST /items.

export const ITEM_NAME_MAX = 200;

export type ItemInput = { ok: true; name: string } | { ok: false; error: string };

export function parseItemInput(body: unknown): ItemInput {
  const name = typeof body === "object" && body !== null ? (body as Record<string, unknown>).name : undefined;
  if (typeof name !== "string" || name.trim() === "") {
    return { ok: false, error: 'body must be JSON {"name": "<non-empty string>"}' };
  }
  if (name.length > ITEM_NAME_MAX) return { ok: false, error: `name is longer than ${ITEM_NAME_MAX} characters` };
  return { ok: true, name };
}
