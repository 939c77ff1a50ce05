/**
 * report.json's JSON Schema, generated from the zod ReportSchema (zod 4's toJSONSchema) so the two
 * cannot disagree. `npm run schema` writes it to schema/report.schema.json; a test checks the
 * committed file is what this returns.
 */
import { z } from 'zod';
import { ReportSchema } from './schema.js';

/** The JSON Schema (draft 2020-12) of report.json as lowrank writes it. */
export function reportJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ReportSchema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, title: 'lowrank report.json', ...rest };
}

/** The schema file's exact text: two-space JSON and a final newline. */
export function reportJsonSchemaText(): string {
  return `${JSON.stringify(reportJsonSchema(), null, 2)}\n`;
}
