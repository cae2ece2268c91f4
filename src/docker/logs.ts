// Docker sends the logs of a container without a TTY as frames: 8-byte header (stream, 0, 0, 0, length BE)
// followed by the payload. This turns such a buffer back into text.

export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at];
    if (stream > 2 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) {
      return buf.toString("utf8"); // not framed (TTY container): raw text
    }
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The whole log of a container (stdout and stderr), as text. */
export async function containerLogs(docker: import("dockerode"), name: string): Promise<string> {
  return demuxLogs((await docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
}
