// Test images derived from a built API image without a build context: an extra SQL migration
// (a schema change, or a broken one), extra environment, and a different APP_VERSION. Built with `docker build -`.
import { execFileSync } from "node:child_process";

export function deriveApiImage(opts: {
  from: string;
  ref: string;
  version: string;
  migration?: { name: string; sql: string };
  env?: Record<string, string>;
  cmd?: string[];
  /** CommonJS source loaded before the API (`node --require`): e.g. a fault injected into every response. */
  preload?: string;
}): string {
  const lines = [`FROM ${opts.from}`, `ENV APP_VERSION=${opts.version}`];
  for (const [k, v] of Object.entries(opts.env ?? {})) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  if (opts.migration) {
    const body = Buffer.from(opts.migration.sql).toString("base64");
    lines.push("USER root", `RUN echo ${body} | base64 -d > /app/dist/api/migrations/${opts.migration.name}.sql`, "USER node");
  }
  if (opts.preload) {
    const body = Buffer.from(opts.preload).toString("base64");
    lines.push("USER root", `RUN echo ${body} | base64 -d > /app/preload.cjs`, "USER node", "ENV NODE_OPTIONS=--require=/app/preload.cjs");
  }
  if (opts.cmd) lines.push(`CMD ${JSON.stringify(opts.cmd)}`);
  execFileSync("docker", ["build", "-q", "-t", opts.ref, "-"], { input: lines.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
  return opts.ref;
}

/** A `preload` that answers 500 to half of the requests that are not health or readiness checks (a bad release). */
export const FAULT_HALF_OF_REQUESTS = `
const http = require("node:http");
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === "request" && !/^\\/(up|health)/.test(req.url) && Math.random() < 0.5) {
    res.statusCode = 500;
    res.setHeader("content-type", "application/json");
    res.end('{"error":"injected fault"}');
    return true;
  }
  return emit.apply(this, arguments);
};
`;
