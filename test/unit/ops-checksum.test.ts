// The .sha256 file is sha256sum-compatible both ways.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checksumFileName, formatChecksumFile, parseChecksumFile } from "../../src/backup/checksum";

const hex = "a".repeat(64);

describe("checksum file", () => {
  it("sits beside the dump in sha256sum format", () => {
    assert.equal(checksumFileName("s-20261122T010000Z-t.dump"), "s-20261122T010000Z-t.dump.sha256");
    assert.equal(formatChecksumFile(hex, "s-20261122T010000Z-t.dump"), `${hex}  s-20261122T010000Z-t.dump\n`);
  });

  it("parses its own output and sha256sum's binary-mode output", () => {
    assert.deepEqual(parseChecksumFile(formatChecksumFile(hex, "x.dump")), { sha256: hex, fileName: "x.dump" });
    assert.deepEqual(parseChecksumFile(`${"B".repeat(64)} *x.dump\n`), { sha256: "b".repeat(64), fileName: "x.dump" });
  });

  it("rejects malformed content", () => {
    assert.equal(parseChecksumFile(""), undefined);
    assert.equal(parseChecksumFile(`${"a".repeat(63)}  x.dump\n`), undefined);
    assert.throws(() => formatChecksumFile("nothex", "x.dump"), /not a sha256/);
  });
});
