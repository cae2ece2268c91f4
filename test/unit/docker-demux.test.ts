// Docker's multiplexed stream: frames split across chunks, stdout passed on, stderr kept.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { DockerDemux } from "../../src/docker";

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function run(chunks: Buffer[]): Promise<{ stdout: string; stderr: string }> {
  const demux = new DockerDemux();
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(demux)) out.push(c as Buffer);
  return { stdout: Buffer.concat(out).toString(), stderr: demux.stderr };
}

describe("DockerDemux", () => {
  it("separates stdout and stderr", async () => {
    assert.deepEqual(await run([Buffer.concat([frame(1, "hello "), frame(2, "warn"), frame(1, "world")])]), { stdout: "hello world", stderr: "warn" });
  });

  it("handles frames split at every byte", async () => {
    const all = Buffer.concat([frame(1, "abc"), frame(2, "err"), frame(1, "def")]);
    const bytes = [...all].map((b) => Buffer.from([b]));
    assert.deepEqual(await run(bytes), { stdout: "abcdef", stderr: "err" });
  });

  it("fails when the stream ends mid-frame", async () => {
    await assert.rejects(run([frame(1, "abcdef").subarray(0, 10)]), /mid-frame/);
  });
});
