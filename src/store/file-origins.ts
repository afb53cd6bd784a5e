/**
 * Which setting and flag point at each file the run reads or writes, so a message about a file
 * can say how to point elsewhere: `/bootstrap/env/.env does not exist (ENV_FILE_PATH, --env-path;
 * the default is the container's path: on the host, e.g. --env-path volumes/env/.env)`.
 * The run notes its files as soon as it knows them; the CLI adds the origin to a failure's message.
 */
import { Ledger } from './ledger.ts';
export interface FileOrigin {
  setting: string;
  flag: string | undefined;
  /** The setting was not given anywhere: the path is its default. */
  isDefault: boolean;
  /** For files derived from another (the lock, the ledger, the backup of `.env`): what they are. */
  beside?: string;
}

const origins = new Map<string, FileOrigin>();

export function noteFile(path: string, origin: FileOrigin): void {
  if (!origins.has(path)) origins.set(path, origin);
}

function describe(origin: FileOrigin): string {
  const named = `${origin.setting}${origin.flag ? ` / ${origin.flag}` : ''}`;
  const head = origin.beside ? `${origin.beside} beside the file ${named} names` : `the file ${named} names`;
  if (!origin.isDefault) return head;
  const example = origin.setting === 'ENV_FILE_PATH' ? ', e.g. --env-path volumes/env/.env from a clone' : '';
  return `${head}; unset, so the container's default: on the host pass ${origin.flag ?? origin.setting}${example}`;
}

/** The origin of the file a message is about: `path` when known, else the longest noted path the message names. */
export function fileOrigin(message: string, path?: string): string | undefined {
  const known = path === undefined ? undefined : origins.get(path);
  if (known) return describe(known);
  const named = [...origins.keys()]
    .sort((a, b) => b.length - a.length)
    .find((p) => {
      const at = message.indexOf(p);
      // The path itself, not the start of a longer one (.env in .env.litellm).
      return at >= 0 && !/[\w.-]/.test(message[at + p.length] ?? '');
    });
  return named === undefined ? undefined : describe(origins.get(named)!);
}

/** The files of a run: `.env` and those beside it, then (with settings) the proxy's env file, the agent's file, the keys file. */
export function noteRunFiles(
  envFilePath: string,
  given: (setting: string) => boolean,
  settings?: { litellmEnvFilePath: string; agentEnvFilePath: string | undefined; keysFile: string | undefined },
): void {
  const env = { setting: 'ENV_FILE_PATH', flag: '--env-path', isDefault: !given('ENV_FILE_PATH') };
  noteFile(envFilePath, env);
  noteFile(`${envFilePath}.lock`, { ...env, isDefault: false, beside: 'the lock file' });
  noteFile(`${envFilePath}.bootstrap-backup`, { ...env, isDefault: false, beside: 'the backup' });
  noteFile(Ledger.pathFor(envFilePath), { ...env, isDefault: false, beside: "the bootstrap's ledger" });
  if (settings === undefined) return;
  noteFile(settings.litellmEnvFilePath, { setting: 'LITELLM_ENV_FILE_PATH', flag: '--litellm-env-file', isDefault: false, ...(given('LITELLM_ENV_FILE_PATH') ? {} : { beside: "the proxy's env file, by default" }) });
  if (settings.agentEnvFilePath) noteFile(settings.agentEnvFilePath, { setting: 'AGENT_ENV_FILE_PATH', flag: '--agent-env-file', isDefault: false });
  if (settings.keysFile) noteFile(settings.keysFile, { setting: 'LITELLM_BOOTSTRAP_CONFIG', flag: '--config', isDefault: false });
}
