// Talks to HAProxy's runtime API on the edge container. The admin socket is never exposed on a network:
// each command is one `docker exec <edge> socat stdio unix-connect:<socket>` over the Docker API, so it
// works wherever dockerode reaches the engine (local socket, tcp, DOCKER_HOST=ssh://...).
// The parsers are pure and tested against captured HAProxy output.
import type Docker from "dockerode";
import { execText } from "../docker";
import { ADMIN_SOCKET } from "./haproxy-config";

export interface ServerState {
  backend: string;
  id: number;
  name: string;
  /** IPv4/IPv6 address or null when the slot has none (`-`). */
  addr: string | null;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** Bit field: 0x01 forced maint, 0x08 forced drain, 0x20 maint (resolution)... */
  adminState: number;
  /** Current (user) weight: 0 = sent no new requests. */
  weight: number;
  /** The configured (initial) weight: what "100%" restores. */
  fullWeight: number;
  port: number;
}

export interface ServerStat {
  backend: string;
  name: string;
  /** Current sessions (requests in progress through this server). */
  scur: number;
  /** Queued requests waiting for this server. */
  qcur: number;
  status: string;
  addr: string | null;
}

/** Seconds socat waits for an answer after the command is sent (see edgeRuntime). */
export const SOCAT_ANSWER_TIMEOUT_S = 10;

export const ADMIN_FORCED_MAINT = 0x01;
export const ADMIN_FORCED_DRAIN = 0x08;
export const OP_RUNNING = 2;

/** Parses `show servers state [<backend>]` (format version 1). */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0) throw new Error("show servers state: empty answer");
  if (lines[0] !== "1") throw new Error(`show servers state: unexpected answer "${lines[0]}"`);
  const header = lines.find((l) => l.startsWith("#"));
  if (!header) throw new Error("show servers state: no header line");
  const cols = header.slice(1).trim().split(/\s+/);
  const at = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`show servers state: no column ${name}`);
    return i;
  };
  const idx = {
    be: at("be_name"), id: at("srv_id"), name: at("srv_name"), addr: at("srv_addr"),
    op: at("srv_op_state"), admin: at("srv_admin_state"), weight: at("srv_uweight"), full: at("srv_iweight"), port: at("srv_port"),
  };
  return lines
    .filter((l) => l !== "1" && !l.startsWith("#"))
    .map((l) => {
      const f = l.split(/\s+/);
      return {
        backend: f[idx.be],
        id: Number(f[idx.id]),
        name: f[idx.name],
        addr: f[idx.addr] === "-" ? null : f[idx.addr],
        opState: Number(f[idx.op]),
        adminState: Number(f[idx.admin]),
        weight: Number(f[idx.weight]),
        fullWeight: Number(f[idx.full]),
        port: Number(f[idx.port]),
      };
    });
}

/** Parses `show stat` CSV into server rows (FRONTEND/BACKEND summary rows are left out). */
export function parseStat(text: string): ServerStat[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.find((l) => l.startsWith("# "));
  if (!header) throw new Error(`show stat: no header line in "${text.slice(0, 80)}"`);
  const cols = header.slice(2).split(",");
  const at = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`show stat: no column ${name}`);
    return i;
  };
  const idx = { px: at("pxname"), sv: at("svname"), scur: at("scur"), qcur: at("qcur"), status: at("status"), addr: at("addr") };
  return lines
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.split(","))
    .filter((f) => f[idx.sv] !== "FRONTEND" && f[idx.sv] !== "BACKEND")
    .map((f) => ({
      backend: f[idx.px],
      name: f[idx.sv],
      scur: Number(f[idx.scur] || 0),
      qcur: Number(f[idx.qcur] || 0),
      status: f[idx.status],
      addr: f[idx.addr] ? f[idx.addr].replace(/:\d+$/, "") : null,
    }));
}

export type SlotState = "drain" | "ready" | "maint";

/** The command line for a state change; names are checked so nothing else can ride along. */
export function setServerStateCommand(backend: string, slot: string, state: SlotState): string {
  for (const [what, v] of [["backend", backend], ["slot", slot]]) {
    if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new Error(`runtime API: invalid ${what} name "${v}"`);
  }
  return `set server ${backend}/${slot} state ${state}`;
}

/** A slot's weight: none (idle: no new requests), its configured weight ("full"), or an absolute weight 1..256. */
export type SlotWeight = "idle" | "full" | number;

/** One command line setting several slots' weights, heaviest first (never a moment with none routed). */
export function setWeightsCommand(backend: string, weights: { slot: string; weight: SlotWeight }[]): string {
  const rank = (w: SlotWeight) => (w === "full" ? 1000 : w === "idle" ? -1 : w);
  return [...weights]
    .sort((a, b) => rank(b.weight) - rank(a.weight))
    .map(({ slot, weight }) => {
      for (const [what, v] of [["backend", backend], ["slot", slot]]) {
        if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new Error(`runtime API: invalid ${what} name "${v}"`);
      }
      if (typeof weight === "number" && (!Number.isInteger(weight) || weight < 1 || weight > 256)) throw new Error(`runtime API: weight ${weight} is not 1..256`);
      return `set weight ${backend}/${slot} ${weight === "full" ? "100%" : weight === "idle" ? "0" : String(weight)}`;
    })
    .join("; ");
}

export interface EdgeRuntime {
  /** The HAProxy container this client talks to. */
  container: string;
  command(cmd: string): Promise<string>;
  serversState(backend: string): Promise<ServerState[]>;
  stat(backend: string): Promise<ServerStat[]>;
  setServerState(backend: string, slot: string, state: SlotState): Promise<void>;
  /** Sets the weights in one command line (one round trip: a switch takes effect at once). */
  setWeights(backend: string, weights: { slot: string; weight: SlotWeight }[]): Promise<void>;
}

/** A runtime-API client for the edge container `container`, reached through `docker exec`. */
export function edgeRuntime(docker: Docker, container: string, socket = ADMIN_SOCKET): EdgeRuntime {
  // -t: how long socat waits for HAProxy's answer after sending the command (its default, 0.5 s, returned an empty
  // answer on a busy host); HAProxy closes the connection once it has answered, so an answer is never delayed by it.
  const command = (cmd: string) => execText(docker, container, ["socat", `-t${SOCAT_ANSWER_TIMEOUT_S}`, "stdio", `unix-connect:${socket}`], `${cmd}\n`);
  return runtimeOver(container, command);
}

/**
 * A runtime-API client over any transport that sends one command line and returns HAProxy's answer (the Swarm
 * target reaches each edge task over TCP through a relay container: src/swarm/edge.ts). `container` names the peer
 * in messages.
 */
export function runtimeOver(container: string, command: (cmd: string) => Promise<string>): EdgeRuntime {
  return {
    container,
    command,
    serversState: async (backend) => parseServersState(await command(`show servers state ${backend}`)),
    stat: async (backend) => parseStat(await command(`show stat ${backend} 4 -1`)).filter((s) => s.backend === backend),
    setServerState: async (backend, slot, state) => {
      const out = (await command(setServerStateCommand(backend, slot, state))).trim();
      if (out !== "") throw new Error(`edge ${container}: "set server ${backend}/${slot} state ${state}" answered "${out}"`);
    },
    setWeights: async (backend, weights) => {
      if (weights.length === 0) return;
      const line = setWeightsCommand(backend, weights);
      const out = (await command(line)).trim();
      if (out !== "") throw new Error(`edge ${container}: "${line}" answered "${out}"`);
    },
  };
}
