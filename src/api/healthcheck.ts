// Docker HEALTHCHECK probe (`node dist/api/healthcheck.js [path] [timeoutMs]`): exit 0 iff GET <path> (default
// /up, the readiness endpoint) answers 2xx within timeoutMs (default 2000; the stack passes its own budget). On failure it prints why (status and body, or the connection
// error): Docker keeps that output in the container's health log, and a failed rollout quotes it.
const port = process.env.PORT || "3000";
const probePath = process.argv[2] || "/up";
const timeoutMs = Number(process.argv[3]) || 2000;
fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(timeoutMs) }).then(
  async (response) => {
    if (response.ok) process.exit(0);
    const body = await response.text().catch(() => "");
    console.log(`GET ${probePath}: ${response.status} ${body.slice(0, 300)}`);
    process.exit(1);
  },
  (error: Error) => {
    console.log(`GET ${probePath}: ${error.message}`);
    process.exit(1);
  },
);
