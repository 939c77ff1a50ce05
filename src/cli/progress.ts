/**
 * Progress on stderr: a bar rewritten in place on a terminal (samples/s, loss, ETA), plain lines in a
 * CI log (one per stage and epoch), nothing with --quiet but notes about the result itself (what was
 * not measured), which print once either way.
 */
import type { CompressEvent } from '../compress/index.js';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressPrinter(stream: NodeJS.WriteStream, quiet: boolean): (event: CompressEvent) => void {
  const tty = stream.isTTY === true;
  const clear = tty ? '\r\u001b[K' : '';
  let lastDraw = 0;
  return (event) => {
    if (event.status === 'note') {
      stream.write(`${clear}note: ${event.message}\n`);
      return;
    }
    if (quiet) return;
    switch (event.status) {
      case 'stage':
        stream.write(`${clear}${event.message}\n`);
        break;
      case 'batch': {
        if (!tty) return;
        const now = Date.now();
        if (now - lastDraw < 100 && event.batch !== event.batches) return;
        lastDraw = now;
        const width = 20;
        const done = Math.round((event.batch / event.batches) * width);
        const bar = `${'█'.repeat(done)}${'░'.repeat(width - done)}`;
        stream.write(`${clear}epoch ${event.epoch}/${event.epochs} ${bar} loss ${event.loss.toFixed(4)} · ${Math.round(event.samplesPerSecond)}/s · ETA ${duration(event.etaSeconds)}`);
        break;
      }
      case 'epoch': {
        const val = event.validationLoss !== undefined ? `, validation loss ${event.validationLoss.toFixed(4)}${event.best ? ' (best)' : ''}` : '';
        stream.write(`${clear}epoch ${event.epoch}/${event.epochs}: loss ${event.loss.toFixed(4)}${val}, ${Math.round(event.samplesPerSecond)} samples/s, ${event.seconds.toFixed(1)} s\n`);
        break;
      }
    }
  };
}
