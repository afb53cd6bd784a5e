/**
 * TEST DOUBLE entry point: runs the LiteLLM stand-in as its own process
 * (bundled by scripts/build.mjs into build/test/stand-in.mjs) for benchmarks
 * and for compose stacks where it replaces LiteLLM.
 *
 * Env: PORT (4000), HOST (0.0.0.0), LITELLM_MASTER_KEY (required),
 * STAND_IN_DB (connected | disconnected | Not connected), STAND_IN_READY_AFTER_MS,
 * STAND_IN_LISTEN_AFTER_MS, STAND_IN_MODELS (comma list), STAND_IN_FLAVOR (current | 1.77 | legacy),
 * STAND_IN_ENTERPRISE (true/false), STAND_IN_READINESS (public | details | no-db), STAND_IN_KEY_ALIAS_PATTERN (builtin or a regex),
 * STAND_IN_ROUTE_DENIAL (http-403 | plain-500), STAND_IN_GENERATE_EXPIRY (exact | calendar),
 * LITELLM_KEY_ROTATION_GRACE_PERIOD (as LiteLLM reads it, e.g. 1h),
 * STORE_MODEL_IN_DB (True/False, read as LiteLLM reads it: model storage for /model/new and friends),
 * STAND_IN_UPSTREAM_KEYS (comma list: the keys the upstream providers the stand-in plays accept; see upstreamKeys).
 * DATABASE_URL is accepted and ignored (the stand-in keeps its keys in memory).
 *
 * Prints exactly one line, `stand-in listening on <url>`, once it listens; exits 0 on SIGTERM/SIGINT.
 */
import {
  defaultFlavor,
  startLiteLLMStandIn,
  type StandInDbState,
  type StandInFlavor,
  type StandInOptions,
} from './litellm-stand-in.ts';

function fail(message: string): never {
  process.stderr.write(`stand-in: ${message}\n`);
  process.exit(2);
}

function int(name: string, dflt?: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function bool(name: string): boolean | undefined {
  const v = process.env[name]?.toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(`${name} must be true or false, got ${JSON.stringify(v)}`);
}

async function main(): Promise<void> {
  const masterKey = process.env['LITELLM_MASTER_KEY'];
  if (!masterKey) fail('LITELLM_MASTER_KEY is required');

  const db = process.env['STAND_IN_DB'];
  if (db !== undefined && db !== '' && !['connected', 'disconnected', 'Not connected'].includes(db)) {
    fail(`STAND_IN_DB must be connected, disconnected or "Not connected", got ${JSON.stringify(db)}`);
  }
  let flavor: StandInFlavor;
  try {
    flavor = defaultFlavor();
  } catch (e) {
    fail((e as Error).message);
  }
  const models = process.env['STAND_IN_MODELS']
    ?.split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');

  const opts: StandInOptions = {
    masterKey,
    port: int('PORT', 4000) ?? 4000,
    host: process.env['HOST'] || '0.0.0.0',
  };
  if (db) opts.db = db as StandInDbState;
  opts.flavor = flavor;
  if (models && models.length > 0) opts.models = models;
  const readyAfterMs = int('STAND_IN_READY_AFTER_MS');
  if (readyAfterMs !== undefined) opts.readyAfterMs = readyAfterMs;
  const listenAfterMs = int('STAND_IN_LISTEN_AFTER_MS');
  if (listenAfterMs !== undefined) opts.listenAfterMs = listenAfterMs;
  const enterprise = bool('STAND_IN_ENTERPRISE');
  if (enterprise !== undefined) opts.enterprise = enterprise;
  const readiness = process.env['STAND_IN_READINESS'];
  if (readiness !== undefined && readiness !== '') {
    if (readiness !== 'public' && readiness !== 'details' && readiness !== 'no-db') fail(`STAND_IN_READINESS must be public, details or no-db, got ${JSON.stringify(readiness)}`);
    opts.readiness = readiness;
  }
  // As LiteLLM reads it from its environment (docker-compose.yml sets "True").
  if ((process.env['STORE_MODEL_IN_DB'] ?? '').toLowerCase() === 'true') opts.storeModelsInDb = true;
  const aliasPattern = process.env['STAND_IN_KEY_ALIAS_PATTERN'];
  if (aliasPattern) opts.keyAliasPattern = aliasPattern;
  const routeDenial = process.env['STAND_IN_ROUTE_DENIAL'];
  if (routeDenial !== undefined && routeDenial !== '') {
    if (routeDenial !== 'http-403' && routeDenial !== 'plain-500') fail(`STAND_IN_ROUTE_DENIAL must be http-403 or plain-500, got ${JSON.stringify(routeDenial)}`);
    opts.routeDenial = routeDenial;
  }
  const generateExpiry = process.env['STAND_IN_GENERATE_EXPIRY'];
  if (generateExpiry !== undefined && generateExpiry !== '') {
    if (generateExpiry !== 'exact' && generateExpiry !== 'calendar') fail(`STAND_IN_GENERATE_EXPIRY must be exact or calendar, got ${JSON.stringify(generateExpiry)}`);
    opts.generateExpiry = generateExpiry;
  }
  const upstreamKeys = process.env['STAND_IN_UPSTREAM_KEYS']?.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (upstreamKeys && upstreamKeys.length > 0) opts.upstreamKeys = upstreamKeys;
  const grace = process.env['LITELLM_KEY_ROTATION_GRACE_PERIOD'];
  if (grace) opts.keyRotationGracePeriod = grace;

  const standIn = await startLiteLLMStandIn(opts);
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    standIn.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await standIn.whenListening();
  process.stdout.write(`stand-in listening on ${standIn.url}\n`);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
