// The GitHub workflows' gates, read from the YAML: pull requests test, build, scan and preview without
// deploy secrets; main builds once, pushes, promotes that digest to staging, smoke-tests, then production
// behind the environment's approval, with a history rollback when the smoke test fails. (actionlint on them:
// test/toolchain/actionlint.test.ts, the tier that needs tools/toolchain.sh's binaries.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const root = join(__dirname, "..", "..");
const dir = join(root, ".github", "workflows");

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string> | string;
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

function load(name: string): Workflow {
  return parse(readFileSync(join(dir, name), "utf8")) as Workflow;
}
const secretsOf = (x: unknown) => [...JSON.stringify(x).matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]!).sort();
const needsOf = (j: Job) => (Array.isArray(j.needs) ? j.needs : j.needs ? [j.needs] : []);
const envName = (j: Job) => (typeof j.environment === "string" ? j.environment : j.environment?.name);
const trivySteps = (j: Job) => j.steps.filter((s) => s.uses?.startsWith("aquasecurity/trivy-action@"));

test("the workflows are pull-request.yml and main.yml; the old deploy.yml is gone", () => {
  assert.deepEqual(readdirSync(dir).sort(), ["main.yml", "pull-request.yml"]);
});

for (const file of ["pull-request.yml", "main.yml"]) {
  test(`${file}: no secret at workflow level, permissions granted per job, official Pulumi CLI, no source build`, () => {
    const wf = load(file);
    assert.deepEqual(wf.permissions, {}, "workflow-level permissions: none");
    assert.deepEqual(secretsOf(wf.env ?? {}), [], "no secret in workflow-level env");
    const runs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ""));
    for (const run of runs) assert.ok(!/\.ci\/run|tools\/toolchain\.sh|\bsudo\b/.test(run), `no source build of Pulumi on GitHub, no sudo losing PATH: ${run}`);
    const inputs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => Object.keys(s.with ?? {})));
    assert.ok(!inputs.flat().includes("config-map"), "images are set by path (pulumi config set --path), not as a literal config-map key");
    for (const [name, job] of Object.entries(wf.jobs)) {
      assert.equal(typeof job.permissions, "object", `${file} job ${name} declares its permissions`);
      for (const step of job.steps) {
        if (step.uses?.startsWith("pulumi/actions@")) assert.ok(step.with?.["pulumi-version"], `${name}: pulumi/actions pins pulumi-version`);
      }
    }
  });

  test(`${file}: every third-party action pinned by its full commit SHA, the version in a trailing comment`, () => {
    // Read as text: the YAML parser drops the comments. A tag can be moved to other code; a commit cannot.
    const lines = readFileSync(join(dir, file), "utf8").split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
    assert.ok(lines.length > 0);
    for (const line of lines) {
      const ref = line.replace(/^\s*(- )?uses:\s*/, "");
      if (ref.startsWith("./")) continue; // an action of this repository: pinned by the checkout itself
      assert.match(ref, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\b/, `${file}: \`${line.trim()}\` is not pinned by a 40-hex commit SHA with \`# vX.Y.Z\``);
    }
  });

  test(`${file}: images scanned by Trivy, failing on HIGH/CRITICAL, before any push`, () => {
    const image = load(file).jobs.image;
    assert.ok(image, "an image job");
    const scans = trivySteps(image);
    assert.equal(scans.length, 2, "api and edge images are scanned");
    for (const s of scans) {
      assert.equal(String(s.with?.["exit-code"]), "1");
      assert.equal(s.with?.severity, "HIGH,CRITICAL");
    }
    // Built from docker-bake.hcl (the same file tools/images.sh builds from), loaded and scanned before any push;
    // main.yml's push is the same bake again (same targets, from the builder's cache).
    const bake = image.steps.filter((s) => /^docker\/bake-action@/.test(s.uses ?? ""));
    assert.equal(bake.length, file === "main.yml" ? 2 : 1);
    for (const b of bake) {
      assert.equal(b.with?.files, "docker-bake.hcl");
      assert.equal(b.with?.targets, "default");
    }
    assert.equal(bake[0]!.with?.load, true, "the first build is loaded for the scans");
    assert.ok(!image.steps.some((s) => /docker (build|push)/.test(s.run ?? "")), "no hand-written build or push");
    const firstScan = image.steps.indexOf(scans[0]!);
    const lastScan = image.steps.indexOf(scans[scans.length - 1]!);
    assert.ok(image.steps.indexOf(bake[0]!) < firstScan);
    image.steps.forEach((s, i) => {
      if (s.with?.push === true) assert.ok(i > lastScan, "nothing is pushed before the scans");
    });
  });
}

test("pull-request.yml: tests, image, preview of both stacks as PR comments — no deploy secrets, write only where it comments", () => {
  const wf = load("pull-request.yml");
  assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
  const { test: t, image, preview } = wf.jobs;
  assert.ok(t && image && preview);
  for (const [name, job] of Object.entries(wf.jobs)) {
    const perms = job.permissions as Record<string, string>;
    assert.notEqual(perms.contents, "write", name);
    assert.equal(perms.packages, undefined, `${name}: nothing is pushed from a pull request`);
    assert.ok(!["staging", "production"].includes(envName(job) ?? ""), `${name}: no deploy environment`);
    const comments = job.steps.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.["comment-on-pr"] === true);
    assert.equal(perms["pull-requests"] === "write", comments, `${name}: pull-requests: write exactly where it comments`);
    if (name !== "preview") assert.deepEqual(secretsOf(job), [], `${name}: no secrets`);
  }
  // The preview reads state and decrypts config through its stack's own environment: no SSH key, no registry.
  assert.equal(envName(preview), "preview-${{ matrix.stack }}");
  for (const s of secretsOf(preview)) assert.ok(["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"].includes(s), `preview uses ${s}`);
  assert.match(preview.if ?? "", /head\.repo\.full_name == github\.repository/, "no preview credentials for forks");
  assert.deepEqual(needsOf(preview).sort(), ["image", "test"]);
  assert.deepEqual(preview.strategy?.matrix?.stack, ["staging", "production"]);
  const pv = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === "preview");
  assert.ok(pv, "pulumi/actions runs the preview");
  assert.equal(pv.with?.["stack-name"], "${{ matrix.stack }}");
  assert.equal(pv.with?.["comment-on-pr"], true);
  const setImages = preview.steps.find((s) => /pulumi config set --path/.test(s.run ?? ""));
  assert.ok(setImages && preview.steps.indexOf(setImages) < preview.steps.indexOf(pv), "the PR's images are set by path before the preview");
  assert.match(setImages.run!, /slipway:images\.api/);
  for (const s of ["npm run typecheck", "npm run lint", "npm run test:unit"]) assert.ok(t.steps.some((x) => x.run === s), s);
});

test("main.yml: build once and push, promote that digest to staging, smoke test, production behind approval, rollback on a failed smoke test", () => {
  const wf = load("main.yml");
  assert.deepEqual(Object.keys(wf.on), ["push"]);
  assert.deepEqual((wf.on.push as { branches: string[] }).branches, ["main"]);
  const { image, staging, production } = wf.jobs;
  assert.ok(image && staging && production);

  assert.equal((image.permissions as Record<string, string>).packages, "write");
  // Pushed to the registry, not left in the runner's engine, with an SBOM and max-mode provenance attached.
  const push = image.steps.find((s) => /^docker\/bake-action@/.test(s.uses ?? "") && s.with?.push === true);
  assert.ok(push, "the bake pushes");
  assert.equal(push.id, "bake");
  assert.equal(push.with?.sbom, true, "an SBOM attestation on every pushed image");
  assert.equal(push.with?.provenance, "mode=max", "max-mode provenance from the bake build");
  assert.equal(push.with?.load, undefined, "attestations do not survive a load into the runner's engine");
  // Promoted by digest: the one bake's metadata reports for what it pushed (attestations included).
  assert.match(image.outputs?.api ?? "", /steps\.digests\.outputs\.api/);
  assert.match(image.outputs?.edge ?? "", /steps\.digests\.outputs\.edge/);
  const digests = image.steps.find((s) => s.id === "digests");
  assert.ok(digests && image.steps.indexOf(digests) > image.steps.indexOf(push));
  assert.equal(digests.env?.METADATA, "${{ steps.bake.outputs.metadata }}");
  assert.match(digests.run ?? "", /\.prod\["containerimage\.digest"\]/, "the api target is prod");
  assert.match(digests.run ?? "", /\.edge\["containerimage\.digest"\]/);

  for (const [name, job] of Object.entries(wf.jobs)) {
    const perms = job.permissions as Record<string, string>;
    if (name !== "image") assert.equal(perms.packages, undefined, name);
    assert.equal(perms.contents === "write", ["staging", "production"].includes(name), `${name}: contents: write only to commit the stack file`);
    if (name === "test") assert.deepEqual(secretsOf(job), [], "tests see no secrets");
  }

  for (const [name, job] of [["staging", staging], ["production", production]] as const) {
    assert.equal(envName(job), name, `${name} runs in its GitHub environment`);
    assert.ok(needsOf(job).includes("image"));
    const promote = job.steps.find((s) => s.id === "promote");
    assert.match(promote?.run ?? "", /npm run promote -- --stack "\$STACK" --image "\$\{\{ needs\.image\.outputs\.api \}\}"/);
    assert.equal(job.env?.STACK, name);
    assert.ok(job.steps.some((s) => s.uses?.startsWith("pulumi/actions@")), `${name}: the official CLI via pulumi/actions`);
    const smoke = job.steps.find((s) => s.id === "smoke");
    assert.match(smoke?.run ?? "", /curl -fsS .*pulumi stack output edgeUrl .*\/health/);
    const rollback = job.steps.find((s) => /npm run rollback -- --stack "\$STACK"/.test(s.run ?? ""));
    assert.ok(rollback, `${name}: a rollback step`);
    assert.match(rollback.if ?? "", /failure\(\)/);
    assert.match(rollback.if ?? "", /steps\.smoke\.outcome == 'failure'/);
    const i = (s: Step | undefined) => job.steps.indexOf(s!);
    assert.ok(i(promote) < i(smoke) && i(smoke) < i(rollback), "promote → smoke → rollback");
    const commit = job.steps.find((s) => /git push/.test(s.run ?? ""));
    assert.ok(commit && i(commit) > i(rollback), `${name}: commits the stack file after promote (and any rollback)`);
    assert.match(commit.run!, /git add "Pulumi\.\$STACK\.yaml"/);
    assert.match(commit.if ?? "", /always\(\)/);
    assert.ok(secretsOf(job).includes("DOCKER_HOST_SSH_KEY"), `${name}: reaches the stack's dockerHost over SSH`);
  }
  assert.ok(needsOf(production).includes("staging"), "production needs staging");
  assert.deepEqual(secretsOf(wf.env ?? {}), []);
});

const usesPulumi = (s: Step) => /\bpulumi\b|npm run (promote|rollback)/.test(s.run ?? "") || (s.uses?.startsWith("pulumi/actions@") === true && s.with?.command !== undefined);

test("secrets of a stack: one environment per stack (production's preview reviewer-gated), on the steps that run pulumi only, never beside install scripts", () => {
  const pr = load("pull-request.yml");
  const main = load("main.yml");
  // Each stack's previews and deploys read their own environment's secrets: staging and production never share a passphrase.
  assert.equal(envName(pr.jobs.preview!), "preview-${{ matrix.stack }}");
  assert.deepEqual(pr.jobs.preview!.strategy?.matrix?.stack, ["staging", "production"]);
  assert.equal(envName(main.jobs.staging!), "staging");
  assert.equal(envName(main.jobs.production!), "production");
  const readme = readFileSync(join(root, "README.md"), "utf8");
  assert.match(readme, /`preview-production` \*\*with required reviewers\*\*/, "the README tells to gate production's preview with reviewers");
  for (const [file, wf] of [["pull-request.yml", pr], ["main.yml", main]] as const) {
    for (const [name, job] of Object.entries(wf.jobs)) {
      const pulumiSecrets = (x: unknown) => secretsOf(x).filter((s) => s.startsWith("PULUMI_"));
      assert.deepEqual(pulumiSecrets(job.env ?? {}), [], `${file} ${name}: no Pulumi secret at job level`);
      for (const step of job.steps) {
        const held = pulumiSecrets(step);
        if (held.length > 0) assert.ok(usesPulumi(step), `${file} ${name}: step "${step.name ?? step.id ?? step.run ?? step.uses}" holds ${held.join(", ")} but runs no pulumi`);
        else if (usesPulumi(step) && step.with?.command) assert.fail(`${file} ${name}: pulumi/actions ${String(step.with.command)} without the stack's secrets`);
      }
      if (file === "main.yml" && (name === "staging" || name === "production")) {
        const commit = job.steps.find((s) => /git push/.test(s.run ?? ""));
        assert.equal(commit?.if, "always() && steps.promote.outcome != 'skipped'", `${name}: main names what runs even after a promote that failed half way`);
        const smoke = job.steps.find((s) => s.id === "smoke");
        assert.match(smoke?.run ?? "", /pulumi stack output edgeUrl/, `${name}: the smoke test calls edgeUrl (edge.publicUrl when set)`);
      }
      if (secretsOf(job).some((s) => s.startsWith("PULUMI_"))) {
        for (const step of job.steps) {
          if (/\bnpm (ci|install)\b/.test(step.run ?? "")) assert.match(step.run!, /--ignore-scripts/, `${file} ${name}: install scripts never run in a job with Pulumi secrets`);
        }
      }
    }
  }
});

