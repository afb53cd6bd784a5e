// Regenerates the settings tables in docs/configuration.md and README.md from the zod schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../src/config/settings-doc.ts';

for (const file of ['docs/configuration.md', 'README.md']) {
  const before = readFileSync(file, 'utf8');
  const after = withSettingsTable(before);
  if (after !== before) {
    writeFileSync(file, after);
    console.log(`updated ${file}`);
  }
}
