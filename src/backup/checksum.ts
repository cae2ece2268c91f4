// The `<name>.sha256` file beside each dump, in `sha256sum` format so operators can run
// `sha256sum -c <name>.sha256` by hand. Pure formatting and parsing; hashing happens at the edges.
import { CHECKSUM_SUFFIX } from "./names";

export function checksumFileName(dumpFileName: string): string {
  return `${dumpFileName}${CHECKSUM_SUFFIX}`;
}

export function formatChecksumFile(sha256Hex: string, dumpFileName: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new Error(`not a sha256 hex digest: '${sha256Hex}'`);
  return `${sha256Hex}  ${dumpFileName}\n`;
}

/** `sha256sum` line → digest and file name it vouches for; undefined when malformed. */
export function parseChecksumFile(text: string): { sha256: string; fileName: string } | undefined {
  const m = /^([0-9a-fA-F]{64}) [ *](.+)\n?$/.exec(text);
  return m ? { sha256: m[1].toLowerCase(), fileName: m[2] } : undefined;
}
