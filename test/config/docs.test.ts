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

  describe('docs/compatibility.md', () => {
    const VERSIONS = ['LiteLLM 1.77.x', 'LiteLLM 1.81.x', 'LiteLLM 1.108 LTS', 'LiteLLM 1.111'];
    const RELIED_ON = ['keys', '`llm_api` keys', 'renewal', 'regenerate (Enterprise)', 'model registration', 'split components', 'alias rules', 'readiness'];
    /** The rows of the markdown table under `heading`, as cells. */
    const table = (text: string, heading: string) => {
      const section = text.split(`\n## ${heading}\n`)[1]?.split('\n## ')[0] ?? '';
      return section
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()));
    };

    it('has a row for everything the bootstrap relies on, a column per version, and every cell says how it is known', async () => {
      const rows = table(await readFile('docs/compatibility.md', 'utf8'), 'What the bootstrap relies on, by version');
      expect(rows[0]).toEqual(['What we rely on', ...VERSIONS]);
      const body = rows.slice(2);
      expect(body.map((r) => r[0])).toEqual(RELIED_ON);
      for (const row of body) {
        expect(row, `row ${row[0]}`).toHaveLength(VERSIONS.length + 1);
        row.slice(1).forEach((cell, i) => {
          expect(cell, `${row[0]} × ${VERSIONS[i]}`).toMatch(/Known: (measured|source|stand-in `(current|1\.77|legacy)`)/);
        });
      }
    });

    it('says which stand-in flavour stands for which version, for every flavour the stand-in has', async () => {
      const rows = table(await readFile('docs/compatibility.md', 'utf8'), 'Which stand-in flavour stands for which version').slice(2);
      const stand = await readFile('test/support/litellm-stand-in.ts', 'utf8');
      const flavours = JSON.parse(`[${/const FLAVORS: readonly StandInFlavor\[\] = \[([^\]]*)\]/.exec(stand)![1]!.replaceAll("'", '"')}]`) as string[];
      expect(rows.map((r) => r[0]!.replaceAll('`', '')).sort()).toEqual([...flavours, 'none'].sort());
      for (const row of rows) expect(row[1], `flavour ${row[0]}`).toMatch(/\*\*(1\.77\.x|1\.111|1\.81\.x)\*\*|before 1\.53/);
      expect(rows.map((r) => r[1]).join(' ')).toMatch(/1\.108 LTS/);
    });
  });
});
