/**
 * `npm run schema`: write schema/report.schema.json from the zod ReportSchema.
 * test/report/schema.test.ts fails when the committed file differs from what this writes.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportJsonSchemaText } from '../src/report/json-schema.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'report.schema.json');
await writeFile(file, reportJsonSchemaText());
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
