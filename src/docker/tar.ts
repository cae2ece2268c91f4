// Builds small tar archives in memory, for `container.putArchive` (config is uploaded, never bind-mounted)
// and build contexts. ustar format: per file a 512-byte header and the content padded to 512; two zero blocks.

export interface TarEntry {
  path: string;
  content: string | Buffer;
  mode?: number;
  /** numeric owner; Docker's putArchive keeps it (without copyUIDGID). Default root. */
  owner?: { uid: number; gid: number };
}

export function tarFiles(entries: TarEntry[]): Buffer {
  return Buffer.concat([...entries.map((e) => tarEntry(e.path, e.content, e.mode ?? 0o644, e.owner ?? { uid: 0, gid: 0 })), Buffer.alloc(1024, 0)]);
}

export function tarOneFile(path: string, content: string | Buffer, mode = 0o644, owner?: { uid: number; gid: number }): Buffer {
  return tarFiles([{ path, content, mode, ...(owner ? { owner } : {}) }]);
}

/** The content of the first file of a tar archive (what `container.getArchive` returns for one file). */
export function firstFileOf(tar: Buffer): Buffer {
  const size = parseInt(tar.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim() || "0", 8);
  return tar.subarray(512, 512 + size);
}

function tarEntry(path: string, content: string | Buffer, mode: number, owner: { uid: number; gid: number }): Buffer {
  const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  if (Buffer.byteLength(path) > 99) throw new Error(`tarOneFile: path "${path}" longer than 99 bytes`);
  const header = Buffer.alloc(512, 0);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
  const octal = (offset: number, length: number, n: number) => field(offset, length, n.toString(8).padStart(length - 1, "0") + "\0");
  field(0, 100, path);
  octal(100, 8, mode);
  octal(108, 8, owner.uid);
  octal(116, 8, owner.gid);
  octal(124, 12, body.length);
  octal(136, 12, Math.floor(Date.now() / 1000));
  field(148, 8, "        "); // checksum is computed with this field as spaces
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512, 0);
  return Buffer.concat([header, body, pad]);
}
