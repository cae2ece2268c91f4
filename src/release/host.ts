// The stack's Docker host as the release verbs see it: which engine (`slipway:dockerHost`, else the local
// engine / DOCKER_HOST, as the program does it), and whether an image is there and which ID it has — the
// rollout never pulls, so a release can only be restored from an image the host still has.
import type Docker from "dockerode";
import type { Stack } from "@pulumi/pulumi/automation";
import { connectDocker, isStatus } from "../docker";

/** The stack's `slipway:dockerHost`, undefined when it names none. */
export async function dockerHostOf(stack: Stack): Promise<string | undefined> {
  const v = await stack.getConfig("slipway:dockerHost").catch(() => undefined);
  return v?.value || undefined;
}

/** How messages name that engine. */
export function describeHost(dockerHost: string | undefined): string {
  if (dockerHost) return dockerHost;
  return process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : "the local Docker engine";
}

/** The image `ref` on that engine: its ID, or undefined when the engine has no such image. */
export async function imageOnHost(docker: Docker, ref: string): Promise<{ id: string } | undefined> {
  try {
    return { id: (await docker.getImage(ref).inspect()).Id };
  } catch (e) {
    if (isStatus(e, 404)) return undefined;
    throw new Error(`cannot ask the Docker host about ${ref}: ${(e as Error).message}`);
  }
}

/** The image's ID on the stack's Docker host, for the release record; undefined when it cannot be known. */
export async function imageIdOnStackHost(stack: Stack, ref: string): Promise<string | undefined> {
  try {
    return (await imageOnHost(connectDocker(await dockerHostOf(stack)), ref))?.id;
  } catch {
    return undefined;
  }
}
