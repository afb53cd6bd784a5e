/**
 * The keys of ours the proxy holds, read in pages: `GET /key/list?user_id=…&
 * return_full_object=true`, at most 100 rows a page, for each `user_id` the
 * declared keys are issued to. A run over many keys then compares hashes
 * locally (the row's `token` is the sha256 of the raw key) instead of asking
 * once per key.
 *
 * Scoped, never an unscoped listing of a shared proxy: an older proxy that
 * ignores the `user_id` filter is noticed on the first page (a row of another
 * user) and that user's listing is given up (the caller reads those keys one
 * by one). A listing that would take more pages than there are keys to read
 * is given up the same way: per-key reads are cheaper then.
 */
import pLimit from 'p-limit';
import type { KeyInfo, ProxyClient } from './client.ts';

/** LiteLLM's largest page (`size` is `Query(ge=1, le=100)`). */
export const PAGE_SIZE = 100;

export interface KeyIndexOptions {
  /** Most pages requested at once. */
  concurrency: number;
  /** How many keys the run would otherwise read one by one (a listing longer than that in pages is not worth it). */
  keyCount: number;
  /** Wraps every request (retries, error mapping); default: the request as is. */
  call?: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
}

export class KeyIndex {
  private readonly byToken = new Map<string, KeyInfo>();
  private readonly byAlias = new Map<string, KeyInfo[]>();

  private constructor(
    /** The user_ids whose every key is in the index. */
    private readonly covered: ReadonlySet<string>,
    rows: KeyInfo[],
  ) {
    for (const row of rows) {
      if (row.token === null || this.byToken.has(row.token)) continue;
      this.byToken.set(row.token, row);
      if (row.alias !== null) {
        const list = this.byAlias.get(row.alias) ?? [];
        list.push(row);
        this.byAlias.set(row.alias, list);
      }
    }
  }

  /** Lists every key of each user in `userIds`; users whose listing was given up are not covered. */
  static async load(client: ProxyClient, userIds: Iterable<string>, opts: KeyIndexOptions): Promise<KeyIndex> {
    const call = opts.call ?? (<T>(_what: string, fn: () => Promise<T>) => fn());
    const limit = pLimit(opts.concurrency);
    const users = [...new Set(userIds)];
    const maxPages = Math.max(1, Math.ceil(opts.keyCount / Math.max(1, users.length)));
    const covered = new Set<string>();
    const rows: KeyInfo[] = [];
    await Promise.all(
      users.map(async (userId) => {
        const page = (n: number) => limit(() => call('listing keys', () => client.listKeysPage({ user_id: userId }, n, PAGE_SIZE)));
        const first = await page(1);
        if (first.rows.some((r) => r.userId !== userId)) return; // the filter was ignored: never list the whole proxy
        const total = first.totalPages ?? (first.rows.length < PAGE_SIZE ? 1 : undefined);
        if (total === undefined || total > maxPages) return;
        const rest = await Promise.all(Array.from({ length: total - 1 }, (_, i) => page(i + 2)));
        const all = [first, ...rest].flatMap((p) => p.rows);
        // Pages are offsets over keys sorted newest first: a key issued while we paged shifts them.
        // A count that moved means a row may have been skipped; the user is then not covered.
        const counts = [first, ...rest].map((p) => p.totalCount);
        if (all.some((r) => r.userId !== userId) || new Set(counts).size > 1) return;
        rows.push(...all);
        covered.add(userId);
      }),
    );
    return new KeyIndex(covered, rows);
  }

  /** Whether every key issued to `userId` is in the index (so a key missing from it is not this user's). */
  covers(userId: string | undefined): boolean {
    return userId !== undefined && this.covered.has(userId);
  }

  /** The row of the key with this sha256, if listed. */
  get(token: string): KeyInfo | undefined {
    return this.byToken.get(token);
  }

  /** Listed keys carrying `alias`. */
  withAlias(alias: string): KeyInfo[] {
    return this.byAlias.get(alias) ?? [];
  }

  /** Every listed key. */
  rows(): KeyInfo[] {
    return [...this.byToken.values()];
  }

  get size(): number {
    return this.byToken.size;
  }
}
