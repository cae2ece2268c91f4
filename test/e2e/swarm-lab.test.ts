// The three-node swarm of tools/swarm-lab.sh is what the Swarm target's tests stand on, so what they rely on is
// asserted here: three Ready managers each answering, the database/edge labels, an attachable overlay carrying a
// dnsrr service spread one task per node whose every task answers HTTP through `tasks.<service>` from a container
// on the overlay, and the fault helpers behaving as node failures: a cut node goes Down and its task is Running
// again on a survivor within a bound, a healed one is Ready again; a killed node takes its containers with it (a
// dockerd killed alone would not), and a started one rejoins. Bounds: SLIPWAY_SWARM_LAB_RESCHEDULE_MS (default
// 180 s, measured ~40 s on a loaded machine) and SLIPWAY_SWARM_LAB_REJOIN_MS (default 180 s).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { missingDockerd, missingRoot, skipUnless } from "../support/prerequisites";
import { swarmLab, waitFor, type SwarmLab } from "../support/swarm-lab";

const skip = skipUnless([missingRoot("start the lab's dockerd nodes"), missingDockerd()]);
const canRun = skip === false;
const NODE_IMAGE = process.env.SLIPWAY_SWARM_LAB_TEST_IMAGE ?? "slipway-local/node:20";
const RESCHEDULE_MS = Number(process.env.SLIPWAY_SWARM_LAB_RESCHEDULE_MS ?? 180_000);
const REJOIN_MS = Number(process.env.SLIPWAY_SWARM_LAB_REJOIN_MS ?? 180_000);
const id = randomBytes(3).toString("hex");
const NETWORK = `swarm-lab-test-${id}`;
const SERVICE = `swarm-lab-echo-${id}`;
const PINNED = `swarm-lab-pinned-${id}`;
// The node the faults hit: not node 1, from which the test watches.
const VICTIM = 3;

let lab: SwarmLab;

interface NodeRow {
  ID: string;
  Hostname: string;
  Status: string;
  ManagerStatus: string;
}
async function nodeRows(via = 1): Promise<NodeRow[]> {
  const out = await lab.cli(["node", "ls", "--format", "{{json .}}"], via);
  return out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as NodeRow);
}
async function nodeStatus(name: string): Promise<string | undefined> {
  return (await nodeRows()).find((r) => r.Hostname === name)?.Status;
}

interface TaskRow {
  id: string;
  node: string;
  state: string;
}
/** The service's tasks that Swarm wants running, with where they run and their current state. */
async function desiredRunning(service = SERVICE): Promise<TaskRow[]> {
  const out = await lab.cli(["service", "ps", service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{.ID}} {{.Node}} {{.CurrentState}}"]);
  return out.trim().split("\n").filter(Boolean).map((l) => {
    const [taskId, node, state] = l.split(" ");
    return { id: taskId!, node: node!, state: state! };
  });
}
/** What the lab looks like from node 1 (and the victim), for a wait that ran out: nodes, the test services' tasks. */
async function labState(): Promise<string> {
  const ask = (args: string[], via = 1) => lab.cli(args, via).then((o) => o.trim(), (e: Error) => `(${e.message.split("\n")[0]})`);
  return [
    `node ls (node 1):\n${await ask(["node", "ls"])}`,
    `node ls (node ${VICTIM}):\n${await ask(["node", "ls"], VICTIM)}`,
    `service ps ${SERVICE}:\n${await ask(["service", "ps", SERVICE, "--format", "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}"])}`,
    `service ps ${PINNED}:\n${await ask(["service", "ps", PINNED, "--format", "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}"])}`,
  ].join("\n");
}
async function taskAddress(taskId: string): Promise<string> {
  const out = await lab.cli(["inspect", "--type", "task", "--format", `{{range .NetworksAttachments}}{{if eq .Network.Spec.Name "${NETWORK}"}}{{index .Addresses 0}}{{end}}{{end}}`, taskId]);
  return out.trim().replace(/\/\d+$/, "");
}

// A one-off container on the overlay (node 1): resolves tasks.<service> (or takes addresses) and asks each for its
// node's name over HTTP. Prints JSON [{ address, answer }] (answer null when the task did not answer in 3 s).
const PROBE = `
const dns = require("node:dns").promises, http = require("node:http");
const ask = (address) => new Promise((resolve) => {
  const req = http.get({ host: address, port: 8080, path: "/", timeout: 3000 }, (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => resolve(b)); });
  req.on("timeout", () => { req.destroy(); resolve(null); });
  req.on("error", () => resolve(null));
});
(async () => {
  const given = process.argv.slice(1);
  const addresses = given.length ? given : (await dns.lookup("tasks.${SERVICE}", { all: true, family: 4 })).map((a) => a.address);
  const out = [];
  for (const address of addresses) out.push({ address, answer: await ask(address) });
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); });`;
async function probe(addresses: string[] = []): Promise<{ address: string; answer: string | null }[]> {
  const out = await lab.cli(["run", "--rm", "--network", NETWORK, NODE_IMAGE, "node", "-e", PROBE, ...addresses]);
  const parsed = JSON.parse(out.trim().split("\n").at(-1)!) as { address: string; answer: string | null }[] | { error: string };
  if (!Array.isArray(parsed)) throw new Error(`probe: ${parsed.error}`);
  return parsed;
}

before(async () => {
  if (!canRun) return;
  const started = Date.now();
  lab = await swarmLab({ exclusive: true, images: [NODE_IMAGE] });
  console.log(`swarm lab ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${lab.nodes.map((n) => `${n.name}@${n.address}`).join(", ")}`);
});

after(async () => {
  if (!lab) return;
  // Whatever a failed test left: the victim back, the service and network gone, then the lab for the next file.
  await lab.heal(VICTIM).catch(() => undefined);
  await lab.start(VICTIM).catch(() => undefined);
  await lab.cli(["service", "rm", SERVICE, PINNED]).catch(() => undefined);
  // Gone from every node before the next file runs: a new overlay given this subnet while a node still has this
  // one's sandbox is rejected there ("Pool overlaps with other one").
  const leftOnNodes = async (args: string[]) => (await Promise.all(lab.nodes.map((n) => lab.cli(args, n.index).catch(() => "")))).join("").trim();
  await waitFor("the test services' containers gone from every node", 120_000, async () => ((await leftOnNodes(["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${SERVICE}`])) + (await leftOnNodes(["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${PINNED}`])) === "" ? true : undefined)).catch((e: Error) => console.log(e.message));
  await lab.cli(["network", "rm", NETWORK]).catch(() => undefined);
  await waitFor("the test network gone from every node", 120_000, async () => ((await leftOnNodes(["network", "ls", "-q", "--filter", `name=${NETWORK}`])) === "" ? true : undefined)).catch((e: Error) => console.log(e.message));
  lab.release();
});

test("three nodes Ready, each a reachable manager answering, labelled for the database and the edge", { skip }, async () => {
  assert.equal(lab.nodes.length, 3);
  for (const node of lab.nodes) {
    const rows = await nodeRows(node.index);
    assert.deepEqual(rows.map((r) => r.Hostname).sort(), lab.nodes.map((n) => n.name).sort(), `node ls via ${node.name}`);
    for (const row of rows) {
      assert.equal(row.Status, "Ready", `${row.Hostname} Ready (asked ${node.name})`);
      assert.match(row.ManagerStatus, /^(Leader|Reachable)$/, `${row.Hostname} a reachable manager (asked ${node.name})`);
    }
  }
  const labels = async (name: string) => JSON.parse(await lab.cli(["node", "inspect", "--format", "{{json .Spec.Labels}}", name])) as Record<string, string>;
  assert.equal((await labels(lab.databaseNode.name))["slipway.database"], "true");
  assert.deepEqual(lab.edgeNodes.map((n) => n.name), lab.nodes.filter((n) => n !== lab.databaseNode).map((n) => n.name));
  for (const edge of lab.edgeNodes) assert.equal((await labels(edge.name))["slipway.edge"], "true", `${edge.name} labelled for the edge`);
  for (const node of lab.nodes) {
    const hostname = (await lab.cli(["info", "--format", "{{.Name}}"], node.index)).trim();
    assert.equal(hostname, node.name, "each engine has its own hostname");
  }
});

test("a dnsrr service on an attachable overlay: one task per node, each answering through tasks.<service>", { skip, timeout: 10 * 60_000 }, async () => {
  await lab.cli(["network", "create", "--driver", "overlay", "--attachable", NETWORK]);
  await lab.cli([
    "service", "create", "--detach", "--no-resolve-image", "--name", SERVICE, "--network", NETWORK, "--endpoint-mode", "dnsrr",
    "--replicas", "3", "--hostname", "{{.Node.Hostname}}", NODE_IMAGE,
    "node", "-e", `require("node:http").createServer((q, s) => s.end(require("node:os").hostname())).listen(8080)`,
  ]);
  const { value: tasks, ms } = await waitFor("3 tasks Running", RESCHEDULE_MS, async () => {
    const rows = await desiredRunning();
    return rows.length === 3 && rows.every((r) => r.state === "Running") ? rows : undefined;
  }, labState);
  console.log(`3 tasks Running in ${(ms / 1000).toFixed(1)} s on ${tasks.map((r) => r.node).join(", ")}`);
  assert.deepEqual(tasks.map((r) => r.node).sort(), lab.nodes.map((n) => n.name).sort(), "one task per node");
  const { value: answers } = await waitFor("every task answering via tasks.<service>", 120_000, async () => {
    const got = await probe();
    return got.length === 3 && got.every((a) => a.answer) ? got : undefined;
  }, labState);
  assert.deepEqual(answers.map((a) => a.answer).sort(), lab.nodes.map((n) => n.name).sort(), "each node's task answered over the overlay");
});

test(`a cut node goes Down, its task runs on a survivor within ${RESCHEDULE_MS} ms; healed, it is Ready again`, { skip, timeout: 15 * 60_000 }, async (t) => {
  const victim = lab.nodes[VICTIM - 1]!;
  t.after(() => lab.heal(VICTIM).catch(() => undefined)); // failed half-way: the next test starts from a whole lab
  await lab.cut(VICTIM);
  const down = await waitFor(`${victim.name} Down`, RESCHEDULE_MS, async () => ((await nodeStatus(victim.name)) === "Down" ? true : undefined), labState);
  const moved = await waitFor(`3 tasks Running off ${victim.name}`, RESCHEDULE_MS, async () => {
    const rows = await desiredRunning();
    return rows.length === 3 && rows.every((r) => r.state === "Running" && r.node !== victim.name) ? rows : undefined;
  }, labState);
  console.log(`cut ${victim.name}: Down after ${(down.ms / 1000).toFixed(1)} s; 3 tasks Running on survivors ${(moved.ms / 1000).toFixed(1)} s after that`);
  const addresses = await Promise.all(moved.value.map((r) => taskAddress(r.id)));
  const answers = await probe(addresses);
  assert.ok(answers.every((a) => a.answer && a.answer !== victim.name), `every running task answers, none from ${victim.name}: ${JSON.stringify(answers)}`);

  await lab.heal(VICTIM);
  const ready = await waitFor(`${victim.name} Ready again`, REJOIN_MS, async () => ((await nodeStatus(victim.name)) === "Ready" ? true : undefined), labState);
  console.log(`healed ${victim.name}: Ready after ${(ready.ms / 1000).toFixed(1)} s`);
  const managers = await waitFor("3 reachable managers", REJOIN_MS, async () => {
    const rows = await nodeRows(VICTIM);
    return rows.filter((r) => /^(Leader|Reachable)$/.test(r.ManagerStatus)).length === 3 ? true : undefined;
  }, labState);
  assert.ok(managers.value);
});

test("a killed node takes its containers with it (a node failure, not a dockerd restart); started, it rejoins", { skip, timeout: 15 * 60_000 }, async (t) => {
  const victim = lab.nodes[VICTIM - 1]!;
  t.after(() => lab.start(VICTIM).catch(() => undefined));
  // A task that can only run on the victim (the spread service may have none there after the heal).
  await lab.cli([
    "service", "create", "--detach", "--no-resolve-image", "--name", PINNED, "--network", NETWORK, "--endpoint-mode", "dnsrr",
    "--constraint", `node.hostname==${victim.name}`, "--hostname", "{{.Node.Hostname}}", NODE_IMAGE,
    "node", "-e", `require("node:http").createServer((q, s) => s.end(require("node:os").hostname())).listen(8080)`,
  ]);
  const pinnedTask = async () => (await desiredRunning(PINNED)).find((r) => r.node === victim.name && r.state === "Running");
  const before = await waitFor(`the pinned task Running on ${victim.name}`, RESCHEDULE_MS, pinnedTask, labState);
  const address = await taskAddress(before.value.id);
  assert.equal((await probe([address]))[0]!.answer, victim.name, "the victim's task answers before the kill");

  await lab.kill(VICTIM);
  await assert.rejects(lab.cli(["version"], VICTIM), "the victim's engine is gone");
  assert.equal((await probe([address]))[0]!.answer, null, "the victim's task died with its node");
  const down = await waitFor(`${victim.name} Down`, RESCHEDULE_MS, async () => ((await nodeStatus(victim.name)) === "Down" ? true : undefined), labState);
  console.log(`killed ${victim.name}: Down after ${(down.ms / 1000).toFixed(1)} s`);

  await lab.start(VICTIM);
  const ready = await waitFor(`${victim.name} Ready again`, REJOIN_MS, async () => ((await nodeStatus(victim.name)) === "Ready" ? true : undefined), labState);
  console.log(`started ${victim.name}: Ready after ${(ready.ms / 1000).toFixed(1)} s`);
  // The cluster converges by itself: the pinned service has a task answering on the victim again.
  const again = await waitFor(`the pinned task Running on ${victim.name} again`, RESCHEDULE_MS, pinnedTask, labState);
  assert.notEqual(again.value.id, before.value.id, "a new task, not the killed one");
  assert.equal((await probe([await taskAddress(again.value.id)]))[0]!.answer, victim.name);
});
