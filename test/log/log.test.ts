import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';
import { clearSecrets, declarePublic, registerSecret, scrub } from '../../src/log/redact.ts';

async function capture(opts: Partial<Parameters<typeof createLogger>[0]> = {}) {
  const lines: string[] = [];
  const log = await createLogger({ level: 'info', format: 'json', color: false, sink: (l) => lines.push(l), now: () => new Date('2026-11-24T01:02:03.456Z'), ...opts });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

afterEach(() => clearSecrets());

describe('the logger', () => {
  it('writes one JSON line per event with the field names log tools know from pino', async () => {
    const { log, lines, json } = await capture();
    log.info({ exitCode: 0 }, 'done: reused key "task-agent default"');
    log.warn('a warning');
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(json()).toEqual([
      { level: 30, time: '2026-11-24T01:02:03.456Z', name: 'llm-proxy-bootstrap', exitCode: 0, msg: 'done: reused key "task-agent default"' },
      { level: 40, time: '2026-11-24T01:02:03.456Z', name: 'llm-proxy-bootstrap', msg: 'a warning' },
    ]);
  });

  it('never prints a value under a secret-looking field name, nor a registered secret anywhere', async () => {
    registerSecret('sk-master-abcdef123');
    const { log, lines, json } = await capture();
    log.info({ key: 'sk-raw-virtual-key', headers: { authorization: 'Bearer sk-raw' }, alias: 'a' }, 'the master key sk-master-abcdef123 was used');
    expect(json()[0]).toMatchObject({ key: '[REDACTED]', headers: { authorization: '[REDACTED]' }, alias: 'a', msg: 'the master key [REDACTED] was used' });
    expect(lines.join('')).not.toMatch(/sk-raw|sk-master-abcdef123/);
  });

  it('prints nothing below its level, and nothing at all when silent', async () => {
    const info = await capture();
    info.log.debug('hidden');
    info.log.error('shown');
    expect(info.json().map((l) => l.msg)).toEqual(['shown']);
    const silent = await capture({ level: 'silent' });
    silent.log.fatal('not even this');
    expect(silent.lines).toEqual([]);
  });

  it('pretty (pino-pretty): time, level and message, then the fields, one line each, scrubbed', async () => {
    registerSecret('sk-master-abcdef123');
    const { log, lines } = await capture({ format: 'pretty' });
    log.info({ exitCode: 0, files: ['a', 'b'], token: 'sk-raw-token' }, 'done with sk-master-abcdef123');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: done with \[REDACTED\] \{"exitCode":0,"files":\["a","b"\],"token":"\[REDACTED\]"\}\n$/);
    expect(lines.join('')).not.toMatch(/sk-raw-token|sk-master-abcdef123/);
  });
});

describe('the scrubber and pieces of secrets', () => {
  it('a secret cut short, or echoed in part, is redacted as soon as 8 of its characters show; a public prefix alone is not', () => {
    const key = 'sk-proj-Hq3Zx8Rt1Wm6Lv4Nc9Kb2Jp7Gd5Sf0Ya';
    registerSecret(key);
    // Every piece but the public `sk-proj-` goes: its first character is all that stays.
    expect(scrub(`cut: ${key.slice(0, 20)}`)).toBe('cut: s[REDACTED]');
    expect(scrub(`tail: ...${key.slice(-9)} end`)).toBe('tail: ...[REDACTED] end');
    expect(scrub(`a whole one ${key}.`)).toBe('a whole one [REDACTED].');
    // 7 characters, or the documented prefix alone: no piece of the secret.
    expect(scrub(`keys start with sk-proj- (${key.slice(8, 15)})`)).toBe(`keys start with sk-proj- (${key.slice(8, 15)})`);
  });

  it('a setting registered without pieces (an API base) is redacted whole only', () => {
    registerSecret('https://my-resource.openai.azure.com', { pieces: false });
    expect(scrub('base https://my-resource.openai.azure.com and https://other.example')).toBe('base [REDACTED] and https://other.example');
  });

  it("a secret's word-like pieces do not eat the words of a message; its random part still goes", () => {
    // A key people make up by hand (sk-test-openai-provider-key-...) shares words with the messages.
    const key = 'sk-test-openai-provider-key-Xq7Rt2';
    registerSecret(key);
    expect(scrub('provider settings mirrored: AZURE_API_BASE')).toBe('provider settings mirrored: AZURE_API_BASE');
    expect(scrub(`echoed: ${key.slice(-10)}`)).toBe('echoed: [REDACTED]');
    expect(scrub(`whole: ${key}`)).toBe('whole: [REDACTED]');
  });

  it("the template's placeholders are public: once declared, neither they nor their pieces are redacted", () => {
    registerSecret('sk-change-me-database-password');
    registerSecret('sk-real-Zp4Wd9Kq1Lm8');
    declarePublic(['sk-change-me-database-password']);
    registerSecret('sk-change-me-database-password');
    expect(scrub('the database password sk-change-me-database-password is published; sk-real-Zp4Wd9Kq1Lm8 is not')).toBe(
      'the database password sk-change-me-database-password is published; [REDACTED] is not',
    );
  });
});
