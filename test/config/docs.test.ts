import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { withSettingsTable } from '../../src/config/settings-doc.ts';
import { SETTING_NAMES } from '../../src/config/settings.ts';

describe('docs', () => {
  it.each(['docs/configuration.md', 'README.md'])('%s lists exactly the settings of the schema (run `npm run docs` after changing src/config/settings.ts)', async (file) => {
    const text = await readFile(file, 'utf8');
    expect(withSettingsTable(text)).toBe(text);
    for (const name of SETTING_NAMES) expect(text).toContain(`| \`${name}\` |`);
  });
});
