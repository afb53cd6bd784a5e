/**
 * What the teams and users kinds share: rows on the proxy that hold keys. Their reports, their
 * summary lines, and their removal: a team or user is removed only when it holds no key, since
 * LiteLLM's /team/delete and /user/delete delete its keys with it (team_endpoints.delete_team,
 * internal_user_endpoints.delete_user), and a key someone else put there is not ours to delete.
 */
import { firstFailure, settleAll } from '../batch.ts';
import type { Logger } from '../log/log.ts';
import { asMaster } from '../proxy/as-master.ts';
import type { KeyInfo, ProxyClient } from '../proxy/client.ts';

export interface RosterContext {
  client: ProxyClient;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  concurrency: number;
}

export interface RosterReport {
  created: string[];
  updated: string[];
  removed: string[];
  /** Entries no longer declared left in place: they still hold keys. */
  kept: string[];
}

export const emptyRosterReport = (): RosterReport => ({ created: [], updated: [], removed: [], kept: [] });

export function mergeRosterReports(reports: RosterReport[]): RosterReport {
  const all = (f: keyof RosterReport) => [...new Set(reports.flatMap((r) => r[f]))];
  return { created: all('created'), updated: all('updated'), removed: all('removed'), kept: all('kept') };
}

/** The summary's parts: `created team "a"` (or a count past 10 names), updated, removed, kept. */
export function rosterSummary(noun: string, report: RosterReport): string[] {
  const parts: string[] = [];
  const list = (verb: string, names: string[]) => names.length && parts.push(names.length > 10 ? `${verb}s: ${names.length}` : `${verb} ${names.map((a) => JSON.stringify(a)).join(', ')}`);
  list(`created ${noun}`, report.created);
  list(`updated ${noun}`, report.updated);
  list(`removed ${noun}`, report.removed);
  if (report.kept.length) parts.push(`kept ${noun}(s) ${report.kept.map((a) => JSON.stringify(a)).join(', ')} no longer declared (they still hold keys)`);
  return parts;
}

/** One removal step, as the kind describes it. */
export interface RosterRemoval<S> {
  step: S;
  /** Its name in messages and the report (a team's alias, a user's id). */
  name: string;
  /** Its log fields. */
  fields: Record<string, unknown>;
  keys: () => Promise<KeyInfo[]>;
  remove: () => Promise<void>;
}

/** Removes each entry that holds no key (at most `concurrency` at once); one that still does is kept, with a warning. */
export async function removeWhenEmpty<S extends { kind: string }>(
  noun: string,
  removals: readonly RosterRemoval<S>[],
  report: RosterReport,
  ctx: RosterContext,
  describe: (step: S) => string,
): Promise<void> {
  const results = await settleAll(removals, ctx.concurrency, async (r) => {
    const keys = await asMaster(`listing the keys of ${noun} ${JSON.stringify(r.name)}`, r.keys, ctx);
    if (keys.length > 0) {
      ctx.log.warn(
        { ...r.fields, keys: keys.length },
        `${noun} ${JSON.stringify(r.name)} is no longer declared but still holds ${keys.length} key(s) (LiteLLM would delete them with it): left in place; move or delete those keys and run again`,
      );
      report.kept.push(r.name);
      return;
    }
    ctx.log.info({ step: r.step.kind }, describe(r.step));
    await asMaster(`removing ${noun} ${JSON.stringify(r.name)}`, r.remove, ctx);
    report.removed.push(r.name);
  });
  const failure = firstFailure(results);
  if (failure !== undefined) throw failure;
}
