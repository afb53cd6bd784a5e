/**
 * What a run reports: the one summary line, and after an applied run the agent's env file and
 * the notes the summary adds (a changed proxy env file and the command that applies it, the
 * provider keys still to set).
 */
import type { KeySpec } from '../config/key-spec.ts';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/log.ts';
import { readEnvFile, type EnvFileState } from '../store/env-files.ts';
import { changedVariables, mirroredSummary, PROXY_APPLY_COMMAND } from '../store/mirror.ts';
import type { Report } from './apply.ts';
import { stillToSet } from './mirror-only.ts';
import type { Plan } from './plan.ts';

/** A report of nothing done but the keys reused. */
export function emptyReport(reused: readonly string[]): Report {
  return { created: [], replaced: [], updated: [], rotated: [], renewed: [], repaired: [], purged: [], pruned: [], reused: [...reused], preserved: [], registered: [], updatedModels: [], removed: [], mirrored: undefined };
}

export function summarize(report: Report, plan: Plan, mirrors: boolean): string {
  const parts: string[] = [];
  // Up to 10 aliases are named; more are counted (a keys file may declare a thousand).
  const list = (verb: string, aliases: string[]) =>
    aliases.length &&
    parts.push(aliases.length > 10 ? `${verb}s: ${aliases.length}` : `${verb} ${aliases.map((a) => JSON.stringify(a)).join(', ')}`);
  list('created key', report.created);
  list('replaced key', report.replaced);
  list('rotated key', report.rotated);
  list('renewed key', report.renewed);
  list('repaired key', report.repaired);
  list('updated key', report.updated);
  list('reused key', report.reused);
  if (report.pruned.length) parts.push(`revoked and deleted the key(s) of ${report.pruned.map((a) => JSON.stringify(a)).join(', ')} (no longer declared)`);
  if (report.purged.length) parts.push(`deleted the retired keys of ${report.purged.map((a) => JSON.stringify(a)).join(', ')} after their grace period`);
  if (report.preserved.length) parts.push(`saved the previous value to ${report.preserved.join(', ')}`);
  list('registered model', report.registered);
  list('updated model', report.updatedModels);
  list('removed model', report.removed);
  if (plan.unserved.length) parts.push(`${plan.unserved.length} model(s) not served`);
  if (report.mirrored) parts.push(mirroredSummary(report.mirrored, plan.steps.find((s) => s.kind === 'mirror')?.settings ?? []));
  else if (mirrors) parts.push('proxy env file unchanged');
  if (plan.notes.length) parts.push(`${plan.notes.length} warning(s) above`);
  return `done: ${parts.join('; ')}`;
}

export function mergeReports(reports: Report[]): Report {
  const all = (field: Exclude<keyof Report, 'mirrored'>) => [...new Set(reports.flatMap((r) => r[field]))];
  const merged: Report = {
    created: all('created'),
    replaced: all('replaced'),
    updated: all('updated'),
    rotated: all('rotated'),
    renewed: all('renewed'),
    repaired: all('repaired'),
    purged: all('purged'),
    pruned: all('pruned'),
    reused: [],
    preserved: all('preserved'),
    registered: all('registered'),
    updatedModels: all('updatedModels'),
    removed: all('removed'),
    mirrored: reports.findLast((r) => r.mirrored)?.mirrored,
  };
  const changed = new Set([...merged.created, ...merged.replaced, ...merged.updated, ...merged.rotated, ...merged.renewed, ...merged.repaired]);
  merged.reused = all('reused').filter((a) => !changed.has(a));
  return merged;
}

/** Would an applied run rewrite the agent's env file? Yes when a key is issued or rotated, or the file differs from .env now. */
export async function agentFileWillChange(settings: Settings, keys: KeySpec[], mainEnv: EnvFileState, plan: Plan): Promise<boolean> {
  const names = keys.filter((k) => k.file === settings.envFilePath).map((k) => k.env);
  if (plan.steps.some((s) => (s.kind === 'issue' || s.kind === 'rotate') && names.includes(s.spec.env))) return true;
  const { agentFileContent, agentFileStale } = await import('../store/agent-file.ts');
  return agentFileStale(settings.agentEnvFilePath!, agentFileContent(mainEnv.doc.values(), names, settings.placeholderKey));
}

/**
 * After an applied run: the agent's env file (AGENT_ENV_FILE_PATH) from .env as it is now; and
 * what the summary must add: that a running proxy has to be restarted to see changed provider
 * keys, and which provider keys are still empty.
 */
export async function finishRun(r: {
  settings: Settings;
  keys: KeySpec[];
  /** Names of the keys file's models: they need no provider key of .env. */
  declared: string[];
  report: Report;
  thePlan: Plan;
  litellmBefore: string | null | undefined;
  owner: { uid: number; gid: number };
  log: Logger;
}): Promise<string[]> {
  const { settings } = r;
  const notes: string[] = [];
  const values = (await readEnvFile(settings.envFilePath)).doc.values();
  if (settings.agentEnvFilePath) {
    const { agentFileContent, syncAgentFile } = await import('../store/agent-file.ts');
    const names = r.keys.filter((k) => k.file === settings.envFilePath).map((k) => k.env);
    if (await syncAgentFile(settings.agentEnvFilePath, agentFileContent(values, names, settings.placeholderKey), r.owner)) {
      r.log.info({ file: settings.agentEnvFilePath }, `wrote the agent's env file ${settings.agentEnvFilePath} (${names.join(', ')})`);
      notes.push("agent's env file written");
    }
  }
  const mirror = r.thePlan.steps.find((s) => s.kind === 'mirror');
  if (mirror && r.litellmBefore !== null && r.litellmBefore !== undefined && r.litellmBefore !== mirror.content) {
    notes.push(`the proxy's env file changed (${changedVariables(r.litellmBefore, mirror.content).join(', ')}): a running llm-proxy keeps the old values until \`${PROXY_APPLY_COMMAND}\``);
  }
  const todo = stillToSet(values, r.keys.flatMap((k) => k.models).filter((m) => !r.declared.includes(m)), settings.envFilePath);
  if (todo) notes.push(todo);
  return notes;
}
