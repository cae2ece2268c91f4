// The Automation API at the edge: select an existing stack of this project (never create one), read its
// history, change its image config, run `pulumi up` with output streamed to the operator. Verbs call
// these; decisions live in history.ts.
//
// Which engine: whatever the environment provides. The project's local defaults (the air-gapped toolchain
// of tools/toolchain.sh, PULUMI_HOME=.slipway/pulumi-home, the file backend in .slipway/state, no plugin
// downloads, the passphrase `slipway-local`) apply only when that toolchain is in use — chooseEngine().
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parse } from "yaml";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { type HistoryEntry, IMAGES_KEY, type Images, objectOf } from "./history";

/** This repository; SLIPWAY_PROJECT_DIR points the verbs at another checkout (tests use it). */
const projectDir = process.env.SLIPWAY_PROJECT_DIR ?? resolve(__dirname, "..", "..");

import { LOCAL_PASSPHRASE } from "../../stacks/secrets";
/** The passphrase of the project's local file backend (air-gapped toolchain only): stacks/secrets.ts. */
export { LOCAL_PASSPHRASE };

export interface EngineFacts {
  /** the caller's environment */
  env: Readonly<Record<string, string | undefined>>;
  /** the checkout the verbs work on */
  projectDir: string;
  /** <projectDir>/.slipway/toolchain/bin/pulumi exists (tools/toolchain.sh ran) */
  toolchainBuilt: boolean;
  /** a `pulumi` on PATH other than that toolchain's (e.g. the official CLI); default true */
  otherPulumiOnPath?: boolean;
}

export interface EngineChoice {
  toolchain: "air-gapped" | "official";
  /** PulumiCommand root whose bin/pulumi runs; undefined: the `pulumi` on PATH */
  root?: string;
  /** set for every pulumi call, on top of the caller's environment */
  env: Record<string, string>;
  /** the backend when the choice fixes it (air-gapped); undefined: Pulumi's own (PULUMI_BACKEND_URL or `pulumi login`) */
  backendUrl?: string;
}

/**
 * Pure: which Pulumi the verbs use and with which environment.
 * - air-gapped: SLIPWAY_TOOLCHAIN=air-gapped (what tools/env.sh exports), or the toolchain is built and the
 *   user set neither PULUMI_HOME nor PULUMI_BACKEND_URL, or it is built and no other `pulumi` is on PATH
 *   (and not SLIPWAY_TOOLCHAIN=official). Then the project's defaults fill only what the user left unset;
 *   the passphrase default only for a file backend.
 * - official: everything else. `pulumi` from PATH; ~/.pulumi, the backend of `pulumi login` and automatic
 *   plugin acquisition stay as Pulumi has them. Nothing is added.
 */
export function chooseEngine(f: EngineFacts): EngineChoice {
  const e = f.env;
  const airGapped =
    e.SLIPWAY_TOOLCHAIN === "air-gapped" ||
    (e.SLIPWAY_TOOLCHAIN !== "official" && f.toolchainBuilt && ((!e.PULUMI_HOME && !e.PULUMI_BACKEND_URL) || f.otherPulumiOnPath === false));
  if (!airGapped) return { toolchain: "official", env: {} };
  const backendUrl = e.PULUMI_BACKEND_URL || `file://${join(f.projectDir, ".slipway", "state")}`;
  const env: Record<string, string> = {
    PULUMI_HOME: e.PULUMI_HOME || join(f.projectDir, ".slipway", "pulumi-home"),
    PULUMI_BACKEND_URL: backendUrl,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: e.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?? "true",
  };
  if (isLocalBackend(backendUrl) && !e.PULUMI_CONFIG_PASSPHRASE && !e.PULUMI_CONFIG_PASSPHRASE_FILE) {
    env.PULUMI_CONFIG_PASSPHRASE = LOCAL_PASSPHRASE;
  }
  return {
    toolchain: "air-gapped",
    ...(f.toolchainBuilt ? { root: join(f.projectDir, ".slipway", "toolchain") } : {}),
    env,
    backendUrl,
  };
}

export function isLocalBackend(url: string): boolean {
  return url.startsWith("file://");
}

/** Pulumi Cloud (or a self-hosted Pulumi service): stacks there default to the service's secrets provider. */
export function isServiceBackend(url: string): boolean {
  return /^https?:\/\//.test(url);
}

/** What a stack file says about its secrets (Pulumi.<stack>.yaml top-level keys). */
export interface StackSecrets {
  secretsprovider?: string;
  encryptionsalt?: string;
}

/**
 * Pure: why the stack's secrets cannot be opened safely, or undefined. A stack on a remote backend whose
 * secrets use a passphrase (the default everywhere but the Pulumi service) needs the user's own
 * PULUMI_CONFIG_PASSPHRASE(_FILE): never the local default.
 */
export function secretsProblem(stackName: string, backendUrl: string, env: EngineFacts["env"], file: StackSecrets): string | undefined {
  if (isLocalBackend(backendUrl)) return undefined;
  if (env.PULUMI_CONFIG_PASSPHRASE === LOCAL_PASSPHRASE) {
    return `stack "${stackName}" is on the remote backend ${backendUrl}, but PULUMI_CONFIG_PASSPHRASE is the project's local default "${LOCAL_PASSPHRASE}" (left over from . tools/env.sh?): set the stack's own passphrase`;
  }
  if (env.PULUMI_CONFIG_PASSPHRASE || env.PULUMI_CONFIG_PASSPHRASE_FILE) return undefined;
  const provider = file.secretsprovider;
  if (provider && provider !== "passphrase" && !provider.startsWith("passphrase:")) return undefined; // awskms://, gcpkms://, …, service
  if (isServiceBackend(backendUrl) && !provider && !file.encryptionsalt) return undefined; // the service's own provider
  return (
    `stack "${stackName}" is on the remote backend ${backendUrl} and its secrets use a passphrase, but neither ` +
    `PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set. Set the stack's own passphrase ` +
    `(the local default "${LOCAL_PASSPHRASE}" is only for the project's file backend), or give the stack a ` +
    `secrets provider: pulumi stack change-secrets-provider --stack ${stackName} <awskms://…|gcpkms://…|azurekeyvault://…|hashivault://…>`
  );
}

function readStackSecrets(stackName: string): StackSecrets {
  const file = join(projectDir, `Pulumi.${stackName.split("/").pop()}.yaml`);
  if (!existsSync(file)) return {};
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return { secretsprovider: str(doc.secretsprovider), encryptionsalt: str(doc.encryptionsalt) };
}

/** `slipway:environment` as the stack's file Pulumi.<stack>.yaml writes it (what the next deploy uses), if any. */
export function stackFileEnvironment(stackName: string): string | undefined {
  const file = join(projectDir, `Pulumi.${stackName.split("/").pop()}.yaml`);
  if (!existsSync(file)) return undefined;
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const v = doc.config?.["slipway:environment"];
  return typeof v === "string" ? v : undefined;
}

let chosen: EngineChoice | undefined;
function engine(): EngineChoice {
  chosen ??= chooseEngine({
    env: process.env,
    projectDir,
    toolchainBuilt: existsSync(join(projectDir, ".slipway", "toolchain", "bin", "pulumi")),
    otherPulumiOnPath: (process.env.PATH ?? "")
      .split(delimiter)
      .some((dir) => dir !== "" && resolve(dir) !== join(projectDir, ".slipway", "toolchain", "bin") && existsSync(join(dir, "pulumi"))),
  });
  return chosen;
}

async function workspaceOptions() {
  const choice = engine();
  if (choice.toolchain === "air-gapped") {
    if (isLocalBackend(choice.env.PULUMI_BACKEND_URL!)) mkdirSync(choice.env.PULUMI_BACKEND_URL!.slice("file://".length), { recursive: true });
    mkdirSync(choice.env.PULUMI_HOME!, { recursive: true });
  }
  const pulumiCommand = await PulumiCommand.get({ ...(choice.root ? { root: choice.root } : {}), skipVersionCheck: true });
  return { pulumiCommand, envVars: choice.env };
}

/** The backend the stacks live on: fixed by the choice, PULUMI_BACKEND_URL, or what `pulumi whoami` reports. */
async function backendUrl(opts: Awaited<ReturnType<typeof workspaceOptions>>): Promise<string | undefined> {
  const fixed = engine().backendUrl ?? process.env.PULUMI_BACKEND_URL;
  if (fixed) return fixed;
  const ws = await LocalWorkspace.create({ workDir: projectDir, ...opts });
  return (await ws.whoAmI().catch(() => undefined))?.url;
}

function howToCreate(stackName: string): string {
  const env = engine().toolchain === "air-gapped" ? ". tools/env.sh && " : "";
  return `${env}pulumi stack init ${stackName}`;
}

/** An existing stack of this project. A missing one is an error naming the stacks there are; never created. */
export async function selectStack(stackName: string): Promise<Stack> {
  const opts = await workspaceOptions();
  const stack = await LocalWorkspace.selectStack({ stackName, workDir: projectDir }, opts).catch(async (err: Error) => {
    if (!/no stack named|not found|does not exist/i.test(err.message)) throw err;
    const names = await listStackNames(opts).catch(() => undefined);
    const existing = names === undefined ? "" : names.length ? ` Existing stacks (pulumi stack ls): ${names.join(", ")}.` : " There are no stacks yet.";
    throw new Error(`stack "${stackName}" does not exist.${existing} Create it on purpose with: ${howToCreate(stackName)}`);
  });
  const env = { ...process.env, ...opts.envVars };
  const ownPassphrase = (env.PULUMI_CONFIG_PASSPHRASE && env.PULUMI_CONFIG_PASSPHRASE !== LOCAL_PASSPHRASE) || env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (!ownPassphrase) {
    const url = await backendUrl(opts);
    const problem = url ? secretsProblem(stackName, url, env, readStackSecrets(stackName)) : undefined;
    if (problem) throw new Error(problem);
  }
  return stack;
}

async function listStackNames(opts: Awaited<ReturnType<typeof workspaceOptions>>): Promise<string[]> {
  const ws = await LocalWorkspace.create({ workDir: projectDir, ...opts });
  return (await ws.listStacks()).map((s) => s.name);
}

export async function history(stack: Stack): Promise<HistoryEntry[]> {
  // Secrets stay hidden: only plain keys (images) are read from the history.
  return (await stack.history(undefined, undefined, false)) as unknown as HistoryEntry[];
}

/**
 * Writes the images into the stack's config — Pulumi.<stack>.yaml — which is what a later plain `pulumi up` deploys.
 * The others stay as they are, whether `slipway:images` is a YAML object or JSON text (`pulumi config set slipway:images
 * '{…}'`, which the program reads alike): a `--path` set into JSON text would replace it with the one key. Written back
 * as one object (YAML in the stack file).
 */
export async function setImages(stack: Stack, images: Partial<Images>): Promise<void> {
  const changes = Object.fromEntries(Object.entries(images).filter(([, ref]) => !!ref));
  if (Object.keys(changes).length === 0) return;
  const value = (await stack.getAllConfig())[IMAGES_KEY];
  const current = value === undefined || value.value === "" ? {} : objectOf(value);
  if (!current) throw new Error(`stack "${stack.name}": ${IMAGES_KEY} is not an object of image references (${value!.value.slice(0, 80)}); fix it in its stack file, then run again`);
  const merged = { ...current, ...changes };
  // `config set-all --json` with an objectValue replaces the key with that object (YAML in the stack file).
  await stack.setAllConfigJson(JSON.stringify({ [IMAGES_KEY]: { value: JSON.stringify(merged), objectValue: merged, secret: false } }));
}

export async function deploy(stack: Stack, message: string, log: (s: string) => void): Promise<Record<string, unknown>> {
  const result = await stack.up({ message, onOutput: log, color: "never" });
  return Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}
