// Builds small tar archives in memory, for `container.putArchive` (config is uploaded, never bind-mounted)
// and build contexts. ustar format: per file a 512-byte header and the content padded to 512; two zero blocks.

export interface TarEntry {
  path: string;
  /** A file's content; a directory has none (`dir: true`). */
  content: string | Buffer;
  mode?: number;
  /** Owner, numeric (0 unless given): Docker extracts an uploaded archive with its owners. */
  uid?: number;
  gid?: number;
  /** A directory entry (its path ends in "/"). */
  dir?: boolean;
}

export function tarFiles(entries: TarEntry[]): Buffer {
  return Buffer.concat([...entries.map((e) => tarEntry(e)), Buffer.alloc(1024, 0)]);
}

/** One file of a container, running or not (Docker's archive API, no exec), as text; undefined when it is not there. */
export async function readContainerFile(container: { getArchive(o: { path: string }): Promise<NodeJS.ReadableStream> }, path: string): Promise<string | undefined> {
  const stream = await container.getArchive({ path }).catch(() => undefined);
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return firstFileOfTar(Buffer.concat(chunks))?.toString("utf8");
}

/** The first regular file's content in a tar archive (what `getArchive` returns for one file), or undefined. */
export function firstFileOfTar(archive: Buffer): Buffer | undefined {
  for (let at = 0; at + 512 <= archive.length; ) {
    const header = archive.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const size = parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/, "").trim() || "0", 8);
    const type = String.fromCharCode(header[156]);
    if (type === "0" || type === "\0") return archive.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

export function tarOneFile(path: string, content: string | Buffer, mode = 0o644, owner?: { uid: number; gid: number }): Buffer {
  return tarFiles([{ path, content, mode, ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) }]);
}

function tarEntry(entry: TarEntry): Buffer {
  const { path, mode = entry.dir ? 0o755 : 0o644 } = entry;
  const body = entry.dir ? Buffer.alloc(0) : typeof entry.content === "string" ? Buffer.from(entry.content, "utf8") : entry.content;
  if (Buffer.byteLength(path) > 99) throw new Error(`tarOneFile: path "${path}" longer than 99 bytes`);
  const header = Buffer.alloc(512, 0);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
  const octal = (offset: number, length: number, n: number) => field(offset, length, n.toString(8).padStart(length - 1, "0") + "\0");
  field(0, 100, path);
  octal(100, 8, mode);
  octal(108, 8, entry.uid ?? 0);
  octal(116, 8, entry.gid ?? 0);
  octal(124, 12, body.length);
  octal(136, 12, Math.floor(Date.now() / 1000));
  field(148, 8, "        "); // checksum is computed with this field as spaces
  field(156, 1, entry.dir ? "5" : "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512, 0);
  return Buffer.concat([header, body, pad]);
}
