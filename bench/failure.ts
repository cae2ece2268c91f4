// What a failed bench step says, in a line.

/**
 * An Automation API error starts "code: -2" and the command line; the program's own diagnostic (the first "error:"
 * line, and the "- key: why" lines after it) is what names the cause.
 */
export function reason(text: string): string {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /^\s*error: /.test(l) && !/Command failed/.test(l));
  if (at < 0) return lines.find((l) => l.trim() !== "" && !/^code: /.test(l))?.trim() ?? text;
  const details = lines.slice(at + 1).filter((l) => /^\s+- /.test(l)).slice(0, 2);
  return [lines[at]!.trim(), ...details.map((l) => l.trim())].join(" ");
}
