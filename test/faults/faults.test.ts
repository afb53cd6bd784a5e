/**
 * The fault-injection suite (docs/reliability.md): the built CLI, as a real
 * process, against a LiteLLM stand-in on loopback, under crashes, a flapping
 * proxy, concurrent runs and hostile files. One file, so the secrets check at
 * the end sees every byte every run of the suite printed and every file it left.
 *
 * Run it alone: npx vitest run test/faults  (one class: add -t "crash safety",
 * -t "flapping", -t "concurrency", -t "hostile"; the secrets check then covers
 * only what ran).
 */
import { crashSafety } from './crash.ts';
import { pruneCrashSafety } from './prune.ts';
import { teamCrashSafety } from './teams.ts';
import { flappingProxy } from './flap.ts';
import { concurrency } from './concurrency.ts';
import { hostileInput } from './hostile.ts';
import { secretsEverywhere } from './secrets.ts';

crashSafety();
pruneCrashSafety();
teamCrashSafety();
flappingProxy();
concurrency();
hostileInput();
secretsEverywhere();
