// Whether a stack's secrets are sealed with the project's well-known local passphrase. Pure: the stack file's
// `encryptionsalt` (Pulumi.<stack>.yaml, passphrase secrets provider) is "v1:<salt>:v1:<nonce>:<ciphertext>",
// the word "pulumi" sealed with AES-256-GCM under PBKDF2-SHA256(passphrase, salt, 1 000 000 rounds) — the check
// Pulumi itself makes to tell a wrong passphrase. Whichever backend the stack is on and however the passphrase
// is given (PULUMI_CONFIG_PASSPHRASE or _FILE), if the local one opens it, anyone who read tools/env.sh can.
import { createDecipheriv, pbkdf2Sync } from "node:crypto";

/** The passphrase tools/env.sh and the verbs use for the project's local file backend. */
export const LOCAL_PASSPHRASE = "slipway-local";

/** True when `passphrase` opens the stack file's `encryptionsalt`; false for another passphrase or no/other salt. */
export function saltOpensWith(encryptionsalt: string | undefined, passphrase: string): boolean {
  const parts = encryptionsalt?.split(":");
  if (!parts || parts.length !== 5 || parts[0] !== "v1" || parts[2] !== "v1") return false;
  const [, salt, , nonce, sealed] = parts as [string, string, string, string, string];
  const key = pbkdf2Sync(passphrase, Buffer.from(salt, "base64"), 1_000_000, 32, "sha256");
  const data = Buffer.from(sealed, "base64");
  if (data.length < 17) return false;
  try {
    const d = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
    d.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]).toString() === "pulumi";
  } catch {
    return false;
  }
}
