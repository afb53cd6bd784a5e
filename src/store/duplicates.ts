/**
 * A variable assigned more than once in `.env` with different values: dotenv (and so the
 * bootstrap, the proxy's wrapper and the agent) takes the last one, which is rarely what the
 * person who added the first line meant. A warning names the variable and every line, never a value.
 */
import type { EnvDocument } from './env-file.ts';

export function duplicateAssignmentNotes(doc: EnvDocument, path: string, skip: ReadonlySet<string>): string[] {
  const byName = new Map<string, { values: Set<string>; lines: number[] }>();
  for (const a of doc.assignments()) {
    const seen = byName.get(a.key) ?? { values: new Set<string>(), lines: [] };
    seen.values.add(a.value);
    seen.lines.push(a.line);
    byName.set(a.key, seen);
  }
  const notes: string[] = [];
  for (const [name, { values, lines }] of byName) {
    if (skip.has(name) || values.size < 2) continue;
    notes.push(`${name} is assigned ${lines.length} times in ${path} with different values (lines ${lines.join(', ')}): the last, line ${lines.at(-1)}, is in effect; delete the others`);
  }
  return notes;
}
