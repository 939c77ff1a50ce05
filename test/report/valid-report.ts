/**
 * Check a report against both published forms of its schema: the zod ReportSchema and the committed
 * schema/report.schema.json. The JSON Schema check is a small validator for the keywords zod's
 * toJSONSchema emits (type, properties, required, additionalProperties, items, prefixItems, enum,
 * const, anyOf, bounds), so no validator dependency is needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { ROOT } from '../helpers.js';

type Schema = Record<string, unknown>;

export const REPORT_JSON_SCHEMA = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8')) as Schema;

/** Problems of `value` against `schema` (empty when valid), each with its JSON path. */
export function jsonSchemaProblems(schema: Schema, value: unknown, at = '$'): string[] {
  if (Array.isArray(schema['anyOf'])) {
    const options = schema['anyOf'] as Schema[];
    return options.some((s) => jsonSchemaProblems(s, value, at).length === 0) ? [] : [`${at}: matches none of anyOf`];
  }
  const problems: string[] = [];
  if ('const' in schema && value !== schema['const']) problems.push(`${at}: not ${JSON.stringify(schema['const'])}`);
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).includes(value)) problems.push(`${at}: not one of ${JSON.stringify(schema['enum'])}`);
  const type = schema['type'] as string | string[] | undefined;
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (!types.some((t) => (t === 'integer' ? Number.isInteger(value) : t === actual))) return [...problems, `${at}: expected ${types.join(' or ')}, got ${actual}`];
  }
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) problems.push(`${at}: below minimum`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) problems.push(`${at}: above maximum`);
    if (typeof schema['exclusiveMinimum'] === 'number' && value <= schema['exclusiveMinimum']) problems.push(`${at}: not above exclusiveMinimum`);
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const key of (schema['required'] ?? []) as string[]) if (!(key in obj)) problems.push(`${at}.${key}: required`);
    for (const [key, v] of Object.entries(obj)) {
      if (props[key] !== undefined) problems.push(...jsonSchemaProblems(props[key], v, `${at}.${key}`));
      else if (schema['additionalProperties'] === false) problems.push(`${at}.${key}: not allowed`);
    }
  }
  if (actual === 'array') {
    const list = value as unknown[];
    if (typeof schema['minItems'] === 'number' && list.length < schema['minItems']) problems.push(`${at}: too few items`);
    if (typeof schema['maxItems'] === 'number' && list.length > schema['maxItems']) problems.push(`${at}: too many items`);
    const prefix = (schema['prefixItems'] ?? []) as Schema[];
    list.forEach((item, i) => {
      const s = prefix[i] ?? (schema['items'] as Schema | undefined);
      if (s !== undefined) problems.push(...jsonSchemaProblems(s, item, `${at}[${i}]`));
    });
  }
  return problems;
}

/** Assert that a report (as parsed JSON) fits ReportSchema and schema/report.schema.json. */
export function assertValidReport(raw: unknown): CompressionReport {
  const parsed = ReportSchema.safeParse(raw);
  assert.ok(parsed.success, `ReportSchema: ${parsed.success ? '' : JSON.stringify(parsed.error.issues[0])}`);
  assert.deepEqual(jsonSchemaProblems(REPORT_JSON_SCHEMA, raw), [], 'schema/report.schema.json');
  return parsed.data;
}
