/**
 * The YAML keys file (LITELLM_BOOTSTRAP_CONFIG): parsed with yaml, validated
 * with zod, every problem reported with its line. Each kind brings its section (`keys:`,
 * `models:`, ...: SpecSection in kind.ts) and builds its specs from its validated entries; this
 * module knows no kind. Loaded only when a keys file is configured, so the default single-key run
 * never loads yaml.
 */
import * as z from 'zod';
import { ConfigError } from '../errors.ts';
import type { DesiredSpec, SectionSettings, SpecSection } from './kind.ts';
import type { KeySpec } from './keys/spec.ts';
import type { ModelSpec } from './models/spec.ts';
import { SECTIONS } from './registry.ts';

/** The file's schema: an object of every section, or (the original format) the bare section's list alone. */
function fileSchema(sections: readonly SpecSection<unknown>[]): z.ZodType {
  const object = z.strictObject(Object.fromEntries(sections.map((s) => [s.name, s.schema])));
  const bare = sections.find((s) => s.bare);
  return bare ? z.union([object, bare.schema]) : object;
}

/** Every section's specs, by kind name. */
export async function parseSpecDocument(text: string, keysFile: string, settings: SectionSettings, sections: readonly SpecSection<unknown>[] = SECTIONS): Promise<DesiredSpec> {
  const schema = fileSchema(sections);
  const { parseDocument, LineCounter, isNode, isAlias, visit } = await import('yaml');
  const firstUnresolvedAlias = (d: ReturnType<typeof parseDocument>): number | undefined => {
    const anchors = new Set<string>();
    let found: number | undefined;
    visit(d, (_key, node) => {
      if (isNode(node) && node.anchor) anchors.add(node.anchor);
      if (isAlias(node) && !anchors.has(node.source) && found === undefined) {
        found = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    });
    return found;
  };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  // Where and what kind of error only: yaml's messages quote the source, and the source may be a secret.
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  const kind = (code: string) => code.toLowerCase().replace(/_/g, ' ');
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `${at(e.pos[0])}: ${kind(e.code)}`);
    throw new ConfigError(`${keysFile} is not valid YAML: ${problems.join('; ')}`);
  }
  let source: unknown;
  try {
    source = doc.toJS();
  } catch {
    // An alias whose anchor is not set (`api_key: *sk-...`): yaml's message holds the alias name.
    const alias = firstUnresolvedAlias(doc);
    throw new ConfigError(`${keysFile} is not valid YAML: ${alias === undefined ? 'it cannot be converted to data' : `${at(alias)}: an alias (*name) whose anchor (&name) is not set before it`}`, {
      hint: 'a value starting with * is an alias in YAML: quote it, or better, put no secret in this file (os.environ/NAME)',
    });
  }
  const parsed = schema.safeParse(source, { reportInput: false });
  const lineOfPath = (p: PropertyKey[]): number => {
    // The deepest node that exists on the issue's path.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) return lineAt(node.range[0]);
    }
    return 1;
  };
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => {
      const issuePath = issue.path;
      // Union errors: report against the array form if the document is a list, else the object form;
      // every problem of that form, so one run shows them all.
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        const branch = Array.isArray(source) ? issue.errors[1] : issue.errors[0];
        if (branch && branch.length > 0) return branch.map((inner) => `line ${lineOfPath([...issuePath, ...inner.path])}: ${[...issuePath, ...inner.path].join('.') || 'file'} ${inner.message}`);
      }
      return [`line ${lineOfPath(issuePath)}: ${issuePath.join('.') || 'file'} ${issue.message}`];
    });
    throw new ConfigError(`invalid keys file ${keysFile}: ${problems.join('; ')}`);
  }
  const data = parsed.data as unknown;
  const bare = Array.isArray(data) ? sections.find((s) => s.bare) : undefined;
  const problems: string[] = [];
  const desired: Record<string, unknown[]> = {};
  for (const section of sections) {
    const written = bare ? section === bare : (data as Record<string, unknown[] | undefined>)[section.name] !== undefined;
    if (!written && section.absentUnlessWritten) continue;
    const list = bare ? (section === bare ? (data as unknown[]) : []) : (((data as Record<string, unknown[] | undefined>)[section.name]) ?? []);
    const prefix = bare ? [] : [section.name];
    const entries = list.map((value, index) => ({ value, index, line: lineOfPath([...prefix, index]), lineOf: (...path: (string | number)[]) => lineOfPath([...prefix, index, ...path]) }));
    desired[section.name] = section.specs(entries, { file: keysFile, settings, problems });
  }
  if (problems.length > 0) throw new ConfigError(`invalid keys file ${keysFile}: ${problems.join('; ')}`);
  return desired;
}

/** The keys file's keys and models (the built-in kinds' specs, typed: for tools and tests). */
export async function parseBootstrapConfig(text: string, keysFile: string, settings: SectionSettings): Promise<{ keys: KeySpec[]; models: ModelSpec[] }> {
  const desired = await parseSpecDocument(text, keysFile, settings);
  return { keys: desired['keys'] as KeySpec[], models: desired['models'] as ModelSpec[] };
}

export async function parseKeysFile(text: string, keysFile: string, settings: SectionSettings): Promise<KeySpec[]> {
  return (await parseBootstrapConfig(text, keysFile, settings)).keys;
}
