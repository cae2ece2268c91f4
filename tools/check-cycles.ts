// Fails when the project's own modules import each other in a cycle; `npm run lint` runs it after eslint.
// Every import counts, `import type` too: a cycle of types still ties two files together, and the one the
// lint step was asked to prevent (the old src/ops commands.ts ↔ backup.ts) was type-only, which eslint's import
// plugins do not see. Imports are found and resolved the way tsc does it, for the files tsconfig.json names.
import * as path from "node:path";
import * as ts from "typescript";

/** Project file → the project files it imports (import, export … from, import(), require() of a literal). */
export function importGraph(files: readonly string[], options: ts.CompilerOptions): Map<string, string[]> {
  const ours = new Set(files.map((f) => path.resolve(f)));
  const graph = new Map<string, string[]>();
  for (const file of ours) {
    const text = ts.sys.readFile(file) ?? "";
    const targets = new Set<string>();
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      const resolved = ts.resolveModuleName(imported.fileName, file, options, ts.sys).resolvedModule;
      if (resolved && !resolved.isExternalLibraryImport && ours.has(path.resolve(resolved.resolvedFileName))) {
        targets.add(path.resolve(resolved.resolvedFileName));
      }
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** One cycle per strongly connected component (Tarjan), each as a path that ends where it starts. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => cycleWithin(graph, new Set(c)));
}

/** A shortest way from the component's first file (by name) back to itself, staying inside the component. */
function cycleWithin(graph: ReadonlyMap<string, readonly string[]>, members: ReadonlySet<string>): string[] {
  const start = [...members].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const route = [v];
        while (route[0] !== start) route.unshift(cameFrom.get(route[0]!)!);
        return [...route, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start]; // unreachable for a real component
}

/**
 * The room of a file: src/<room> under src/, else its top-level folder (infra, stacks, bench, tools); undefined for
 * tests and files at the root, which may import any room.
 */
export function roomOf(relative: string): string | undefined {
  const parts = relative.split(path.sep);
  if (parts.length < 2 || parts[0] === "test") return undefined;
  return parts[0] === "src" && parts.length > 2 ? `src/${parts[1]}` : parts[0];
}

/** The rooms' graph: room → the rooms its files import (its own left out). A cycle here is an arrow both ways. */
export function roomGraph(graph: ReadonlyMap<string, readonly string[]>, root: string): Map<string, string[]> {
  const rooms = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = roomOf(path.relative(root, file));
    if (from === undefined) continue;
    const into = rooms.get(from) ?? new Set<string>();
    rooms.set(from, into);
    for (const t of targets) {
      const to = roomOf(path.relative(root, t));
      if (to !== undefined && to !== from) into.add(to);
    }
  }
  return new Map([...rooms].map(([r, t]) => [r, [...t].sort()]));
}

function main(): void {
  const root = path.resolve(__dirname, "..");
  const configFile = path.join(root, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => console.error(ts.flattenDiagnosticMessageText(d.messageText, "\n")) });
  if (!config) throw new Error(`cannot read ${configFile}`);
  const graph = importGraph(config.fileNames, config.options);
  const cycles = findCycles(graph);
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => path.relative(root, f)).join(" → ")}`);
  if (cycles.length > 0) {
    console.error(`\n${cycles.length} import cycle(s) among the project's modules: move what both sides need into a module of its own, or to the side it belongs to.`);
    process.exitCode = 1;
  }
  // Rooms (src/<room>, infra, stacks, bench, tools) import each other one way only: no arrow runs both ways.
  const roomCycles = findCycles(roomGraph(graph, root));
  for (const cycle of roomCycles) console.error(`rooms that import each other: ${cycle.join(" → ")}`);
  if (roomCycles.length > 0) {
    console.error(`\n${roomCycles.length} cycle(s) between rooms: the word both need belongs in a room below both (often src/vocabulary).`);
    process.exitCode = 1;
  }
}

if (require.main === module) main();
