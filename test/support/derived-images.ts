// Test images derived from a built API image without a build context: an extra SQL migration
// (a schema change, or a broken one) and a different APP_VERSION. Built with `docker build -`.
import { execFileSync } from "node:child_process";

export function deriveApiImage(opts: { from: string; ref: string; version: string; migration?: { name: string; sql: string } }): string {
  const lines = [`FROM ${opts.from}`, `ENV APP_VERSION=${opts.version}`];
  if (opts.migration) {
    const body = Buffer.from(opts.migration.sql).toString("base64");
    lines.push("USER root", `RUN echo ${body} | base64 -d > /app/dist/api/migrations/${opts.migration.name}.sql`, "USER node");
  }
  execFileSync("docker", ["build", "-q", "-t", opts.ref, "-"], { input: lines.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
  return opts.ref;
}
