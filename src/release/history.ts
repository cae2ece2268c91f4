// Decisions about releases, from `pulumi stack history`: which images a stack ran, what a rollback
// goes back to, whether an image may be promoted. Pure: history entries in, a decision out.

export interface HistoryEntry {
  kind: string;
  result: string;
  startTime: Date | string;
  message?: string;
  config: Record<string, { value: string; secret: boolean } | undefined>;
}

export interface Images {
  api: string;
  edge: string;
  postgres: string;
}

export interface Release {
  images: Images;
  startTime: Date;
  message: string;
  /** Position in the stack's history, 1 = newest update. */
  position: number;
}

const IMAGES_KEY = "slipway:images";

function imagesOf(entry: HistoryEntry): Images | undefined {
  const raw = entry.config[IMAGES_KEY]?.value;
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<Images>;
    return v.api && v.edge && v.postgres ? { api: v.api, edge: v.edge, postgres: v.postgres } : undefined;
  } catch {
    return undefined;
  }
}

/** Successful updates that recorded images, newest first. The file backend sets no version: order by time. */
export function releases(history: HistoryEntry[]): Release[] {
  const sorted = history
    .map((e, i) => ({ e, t: new Date(e.startTime), i }))
    .sort((a, b) => b.t.getTime() - a.t.getTime() || a.i - b.i);
  const out: Release[] = [];
  sorted.forEach(({ e, t }, idx) => {
    const images = imagesOf(e);
    if (e.kind === "update" && e.result === "succeeded" && images) {
      out.push({ images, startTime: t, message: e.message ?? "", position: idx + 1 });
    }
  });
  return out;
}

export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

/**
 * The release to roll back to: `steps` distinct API images back from the one running now.
 * Consecutive updates with the same API image (config changes, re-runs) count as one release.
 */
export function rollbackTarget(stack: string, history: HistoryEntry[], steps = 1): { from: Release; to: Release } {
  if (!Number.isInteger(steps) || steps < 1) throw new ReleaseError(`steps must be a whole number >= 1, got ${steps}`);
  const all = releases(history);
  if (all.length === 0) throw new ReleaseError(`stack "${stack}" has no successful deploy in its history; nothing to roll back`);
  const distinct: Release[] = [];
  for (const r of all) {
    if (distinct.length === 0 || distinct[distinct.length - 1]!.images.api !== r.images.api) distinct.push(r);
  }
  const from = distinct[0]!;
  const to = distinct[steps];
  if (!to) {
    throw new ReleaseError(
      `stack "${stack}" has ${distinct.length} distinct release(s) in its history; cannot go back ${steps} (see: pulumi stack history --stack ${stack})`,
    );
  }
  return { from, to };
}

/** An image may go to production only after a successful deploy of the very same reference to staging. */
export function checkPromotable(image: string, target: string, source: string, sourceHistory: HistoryEntry[]): void {
  const deployed = releases(sourceHistory).some((r) => r.images.api === image);
  if (!deployed) {
    throw new ReleaseError(
      `${image} has never been deployed successfully to stack "${source}"; deploy it there first ` +
        `(npm run promote -- --stack ${source} --image ${image}), or pass --force to send it to "${target}" anyway`,
    );
  }
}
