// Compile-ahead of the program and of the engines the dynamic providers load (issue 22: a no-op preview spent most of
// its time in the TypeScript loader). Plain CommonJS JavaScript, because it is what runs before any TypeScript can.
//
// The build is keyed by the content of every source it compiles (infra/, src/, stacks/, tsconfig.json) and by the
// compiler's version, so what runs is never stale: an edit makes a new key, hence a new build, on the next run. Each
// file is compiled alone by esbuild (what tsx does on every run, with the same per-file semantics); `__dirname` and
// `__filename` keep naming the source file's real place, so paths the code derives from them (the stack files, the
// engines, monitoring/) are the checkout's, not the build's. Where it goes: <checkout>/.slipway/build/<key>; in a
// checkout this user cannot write: undefined, and the caller loads the TypeScript through tsx as before.
/* global require, module, process, __dirname */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

/** The directories compiled, relative to the checkout. */
const ROOTS = ["infra", "src", "stacks"];
/** Raise when the output's shape changes (what this file writes), so older builds are never taken for current ones. */
const FORMAT = "1";
/** Builds kept per directory (other checkouts' and older revisions'); older ones are removed after a build. */
const KEEP = 8;

/** Every .ts file under the roots, as sorted paths relative to the checkout. */
function sources(checkout) {
  const files = [];
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(checkout, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(child);
    }
  };
  for (const root of ROOTS) walk(root);
  return files.sort();
}

function compiler(checkout) {
  // esbuild comes with tsx (a dependency of the project): resolve it from there, whatever npm hoisted.
  return require(require.resolve("esbuild", { paths: [path.dirname(require.resolve("tsx", { paths: [checkout] }))] }));
}

/** The build's key: the sources' paths and contents, tsconfig.json, the compiler's version, the node major version. */
function buildKey(checkout, files, esbuild) {
  const hash = crypto.createHash("sha256");
  hash.update(`${FORMAT}\0${esbuild.version}\0${process.versions.node.split(".")[0]}\0`);
  for (const rel of [...files, "tsconfig.json"]) {
    const file = path.join(checkout, rel);
    hash.update(`${rel}\0`);
    if (fs.existsSync(file)) hash.update(fs.readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 24);
}

/** A directory of this user's only (created 0700; refused if someone else owns it or others may write to it). */
function privateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} is writable by others`);
  return dir;
}

/**
 * Where builds go: inside the checkout only, because the compiled files find their packages (@pulumi/pulumi, pg…) the
 * way node does, in the node_modules of a directory above them — a build under the system's temporary directory would
 * find none.
 */
function candidates(checkout) {
  return [path.join(checkout, ".slipway", "build")];
}

function compileInto(dir, checkout, files, esbuild) {
  for (const rel of files) {
    const file = path.join(checkout, rel);
    const out = path.join(dir, rel.replace(/\.ts$/, ".js"));
    const result = esbuild.transformSync(fs.readFileSync(file, "utf8"), {
      loader: "ts",
      format: "cjs",
      target: "node20",
      platform: "node",
      sourcefile: file,
      sourcemap: "external",
      define: { __dirname: JSON.stringify(path.dirname(file)), __filename: JSON.stringify(file) },
    });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${result.code}//# sourceMappingURL=${path.basename(out)}.map\n`);
    fs.writeFileSync(`${out}.map`, result.map);
  }
}

function prune(parent, keep) {
  const builds = fs.readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ dir: path.join(parent, e.name), at: fs.statSync(path.join(parent, e.name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of builds.slice(keep)) fs.rmSync(old.dir, { recursive: true, force: true });
}

/**
 * The directory holding the compiled checkout (`<dir>/infra/index.js`, `<dir>/src/rollout/index.js`, …) for the
 * sources as they are now, compiled first when needed; undefined when no build can be had (then load the TypeScript).
 * `log` hears why a place was not usable.
 */
function ensureBuild(checkoutDir, log = () => undefined) {
  let checkout, files, esbuild, key;
  try {
    checkout = fs.realpathSync(checkoutDir);
    files = sources(checkout);
    esbuild = compiler(checkout);
    key = buildKey(checkout, files, esbuild);
  } catch (e) {
    log(`compile-ahead unavailable: ${e.message}`);
    return undefined;
  }
  for (const parent of candidates(checkout)) {
    const dir = path.join(parent, key);
    if (fs.existsSync(path.join(dir, "complete"))) return dir;
    const tmp = `${dir}.partial-${process.pid}`;
    try {
      privateDir(parent);
      fs.rmSync(tmp, { recursive: true, force: true });
      compileInto(tmp, checkout, files, esbuild);
      fs.writeFileSync(path.join(tmp, "complete"), `${checkout}\n`);
      try {
        fs.renameSync(tmp, dir);
      } catch (e) {
        // Another process finished the same build first: theirs is as good as ours.
        if (!fs.existsSync(path.join(dir, "complete"))) throw e;
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      try {
        prune(parent, KEEP);
      } catch {
        // a build being removed by another process meanwhile: nothing to do
      }
      return dir;
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      log(`compile-ahead: ${parent} not usable (${e.message})`);
    }
  }
  return undefined;
}

/** The checkout's module `rel` ("infra/index", "src/rollout/index"): compiled when it can be, else through tsx. */
function loadCompiled(checkoutDir, rel, log) {
  const dir = ensureBuild(checkoutDir, log);
  if (dir) return require(path.join(dir, `${rel}.js`));
  // tsx's CommonJS hook, once per process (each registration stacks another hook).
  if (!process.slipwayTsxRegistered) {
    require(require.resolve("tsx/cjs/api", { paths: [checkoutDir] })).register();
    process.slipwayTsxRegistered = true;
  }
  return require(path.join(fs.realpathSync(checkoutDir), `${rel}.ts`));
}

module.exports = { ensureBuild, loadCompiled, sources, ROOTS };
if (require.main === module) {
  // node infra/build.js: compile now (e.g. ahead of a first deploy) and print where the build is.
  const dir = ensureBuild(path.resolve(__dirname, ".."), (line) => process.stderr.write(`${line}\n`));
  if (!dir) process.exit(1);
  process.stdout.write(`${dir}\n`);
}
