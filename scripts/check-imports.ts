/**
 * The architecture's import rules, checked (`npx tsx scripts/check-imports.ts`; exit 1 on a breach):
 * no import cycle between modules of src/, and no room importing a room above it. Rooms, bottom
 * up: errors/log/retry/batch and http, then config and proxy, then kube, then store (the Secret
 * store stands on the kube client), then resources,
 * reconcile, cli. Static and dynamic (`await import(...)`) imports count alike; `import type` too
 * (a type that crosses rooms upwards is a design smell all the same).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', 'src');
const RANK: Record<string, number> = { errors: 0, log: 0, retry: 0, batch: 0, http: 0, config: 1, proxy: 1, kube: 2, store: 2.5, resources: 3, reconcile: 4, cli: 5 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const room = (file: string) => relative(root, file).split('/')[0]!.replace(/\.ts$/, '');
const graph = new Map<string, string[]>();
for (const file of files(root)) {
  const text = readFileSync(file, 'utf8');
  const deps = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g)].map((m) => resolve(dirname(file), m[1]!));
  graph.set(file, [...new Set(deps)]);
}

const problems: string[] = [];
for (const [file, deps] of graph) {
  for (const dep of deps) {
    const [from, to] = [room(file), room(dep)];
    if (RANK[from] === undefined || RANK[to] === undefined) problems.push(`${relative(root, file)}: unknown room (${from} or ${to})`);
    else if (RANK[to]! > RANK[from]!) problems.push(`${relative(root, file)} (${from}) imports ${relative(root, dep)} (${to}), a room above it`);
    else if (RANK[to] === RANK[from] && from !== to && !(RANK[from] === 0)) problems.push(`${relative(root, file)} (${from}) imports ${relative(root, dep)} (${to}), a room beside it`);
  }
}

// Cycles: depth-first search, each cycle reported once by its smallest member.
const seen = new Set<string>();
const reported = new Set<string>();
const stack: string[] = [];
const onStack = new Set<string>();
function visit(file: string): void {
  if (onStack.has(file)) {
    const cycle = stack.slice(stack.indexOf(file)).map((f) => relative(root, f));
    const key = [...cycle].sort().join(' ');
    if (!reported.has(key)) {
      reported.add(key);
      problems.push(`import cycle: ${[...cycle, relative(root, file)].join(' → ')}`);
    }
    return;
  }
  if (seen.has(file)) return;
  seen.add(file);
  stack.push(file);
  onStack.add(file);
  for (const dep of graph.get(file) ?? []) if (graph.has(dep)) visit(dep);
  stack.pop();
  onStack.delete(file);
}
for (const file of graph.keys()) visit(file);

for (const p of problems) console.log(p);
console.log(problems.length === 0 ? `imports: ${graph.size} modules, no cycle, no room importing one above it` : `imports: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
