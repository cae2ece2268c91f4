// Splits Docker's multiplexed exec/attach stream (8-byte frame headers: stream type, 3 zero bytes,
// uint32 big-endian length) into stdout, passed on with backpressure, and stderr, kept as text.
// dockerode's own demuxStream ignores backpressure, which a multi-gigabyte dump cannot afford.
import { Transform, TransformCallback } from "node:stream";

const STDERR_KEEP = 64 * 1024; // the tail is what explains a failure

export class DockerDemux extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private frameType = -1;
  private frameLeft = 0;
  private stderrTail = "";

  get stderr(): string {
    return this.stderrTail;
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.frameLeft === 0) {
        if (buf.length < 8) {
          this.pending = buf;
          break;
        }
        this.frameType = buf[0];
        this.frameLeft = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const take = Math.min(this.frameLeft, buf.length);
      this.emitPayload(buf.subarray(0, take));
      this.frameLeft -= take;
      buf = buf.subarray(take);
    }
    done();
  }

  _flush(done: TransformCallback): void {
    done(this.frameLeft > 0 || this.pending.length > 0 ? new Error("docker exec stream ended mid-frame") : null);
  }

  private emitPayload(payload: Buffer): void {
    if (this.frameType === 2) {
      this.stderrTail = (this.stderrTail + payload.toString("utf8")).slice(-STDERR_KEEP);
    } else if (this.frameType === 1) {
      this.push(payload);
    }
  }
}
