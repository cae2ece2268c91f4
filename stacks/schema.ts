// The shape of a stack's configuration (Pulumi.<stack>.yaml, namespace `slipway`), parsed once at
// program start. Everything downstream receives these plain typed values and never re-validates.
import { z } from "zod";

const imageRef = z.string().min(1, "must name an image, e.g. registry.example.com/app:3f2c1a9");

export const limitsSchema = z.object({
  memoryMb: z.number().int().min(16, "must be at least 16 (MiB)"),
  cpus: z.number().positive().max(64),
});

export const restartPolicySchema = z.enum(["no", "always", "unless-stopped", "on-failure"]);

const volumeSchema = z.object({
  source: z.string().min(1, "names a Docker volume, or a host path for a bind mount"),
  target: z.string().startsWith("/", "must be an absolute path inside the container"),
  readOnly: z.boolean().default(false),
});

const healthcheckSchema = z.object({
  path: z.string().startsWith("/").default("/health"),
  intervalMs: z.number().int().min(100).default(1000),
  timeoutMs: z.number().int().min(100).default(2000),
  retries: z.number().int().min(1).default(3),
  startPeriodMs: z.number().int().min(0).default(2000),
});

const rolloutSchema = z.object({
  healthTimeoutMs: z.number().int().min(1000).default(60_000),
  drainTimeoutMs: z.number().int().min(0).default(30_000),
  stopGraceSeconds: z.number().int().min(0).default(10),
});

export const stackConfigSchema = z.object({
  environment: z.enum(["staging", "production"]),
  /** Docker engine to deploy to; unset means the local engine (or DOCKER_HOST of the operator). */
  dockerHost: z.string().optional(),
  images: z.object({
    api: imageRef,
    edge: imageRef,
    postgres: imageRef,
  }),
  api: z.object({
    replicas: z.number().int().min(1).max(20),
    port: z.number().int().min(1).max(65535).default(3000),
    limits: limitsSchema.optional(),
    restartPolicy: restartPolicySchema.default("unless-stopped"),
    env: z.record(z.string(), z.string()).default({}),
    volumes: z.array(volumeSchema).default([]),
    healthcheck: healthcheckSchema.default(healthcheckSchema.parse({})),
    rollout: rolloutSchema.default(rolloutSchema.parse({})),
  }),
  edge: z.object({
    port: z.number().int().min(1).max(65535),
    bindAddress: z.string().default("127.0.0.1"),
    limits: limitsSchema.optional(),
    restartPolicy: restartPolicySchema.default("unless-stopped"),
    slots: z.number().int().min(2).max(100).default(10),
  }),
  database: z.object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a plain lower-case identifier").default("app"),
    user: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a plain lower-case identifier").default("app"),
    limits: limitsSchema.optional(),
    restartPolicy: restartPolicySchema.default("unless-stopped"),
  }),
  backup: z
    .object({
      enabled: z.boolean(),
      dir: z.string().startsWith("/", "must be an absolute directory on the machine running pulumi"),
      keep: z.number().int().min(1).default(7),
    })
    .optional(),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;

/** The top-level keys of the `slipway` config namespace, in the order they are read. */
export const configKeys = Object.keys(stackConfigSchema.shape) as (keyof StackConfig)[];
