// Module-resolution hooks (run on the loader thread): append each resolved URL to the trace file.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const file = process.env.LOWRANK_TRACE_LOADS;
  if (file) appendFileSync(file, `${result.url}\n`);
  return result;
}
