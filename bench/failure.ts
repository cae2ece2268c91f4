// What a failed bench step says, in a line.

/**
 * An Automation API error starts "code: -2" and the command line; the program's own diagnostic (the first "error:"
 * line that is not the engine's summary "update failed", and the "- key: why" lines right under it) names the cause.
 */
export function reason(text: string): string {
  const lines = text.split("\n");
  const errors = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^\s*error: /.test(l) && !/Command failed/.test(l));
  const at = (errors.find(({ l }) => !/^\s*error: (update|preview) failed\s*$/.test(l)) ?? errors[0])?.i;
  if (at === undefined) return lines.find((l) => l.trim() !== "" && !/^code: /.test(l))?.trim() ?? text;
  const details: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!/^\s+- [\w.:-]+: /.test(l)) break;
    if (details.length < 2) details.push(l.trim());
  }
  return [lines[at]!.trim(), ...details].join(" ");
}
