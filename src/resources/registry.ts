/**
 * Every resource kind, one line each. The order is the order of plans, summaries and --dry-run
 * listings; the order of work follows each kind's `after`. A new kind: a folder under
 * src/resources/ with a kind.ts, and a line here (docs/how-it-works.md, "Adding a kind").
 */
import { agentFileKind } from './agent-file/kind.ts';
import { dbPasswordKind } from './db-password/kind.ts';
import { envFileKind } from './env-file/kind.ts';
import type { ResourceKind, SpecSection } from './kind.ts';
import { keysKind } from './keys/kind.ts';
import { modelsKind } from './models/kind.ts';
import { teamsKind } from './teams/kind.ts';
import { usersKind } from './users/kind.ts';

export const KINDS: readonly ResourceKind[] = [
  teamsKind,
  usersKind,
  keysKind,
  modelsKind,
  envFileKind,
  dbPasswordKind,
  agentFileKind,
];

/** The keys file's sections, one per kind that has one. */
export const SECTIONS: readonly SpecSection<unknown>[] = KINDS.flatMap((k) => (k.section ? [k.section] : []));
