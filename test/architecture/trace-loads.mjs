// Preloaded with --import: records every module URL the process resolves into $LOWRANK_TRACE_LOADS,
// so a test can tell which packages a command loads.
import { register } from 'node:module';

register('./trace-hooks.mjs', import.meta.url);
