/**
 * Progress on stderr: one rewritten line on a terminal, plain lines in a CI log, nothing with --quiet.
 */
import type { CompressEvent } from '../compress.js';

export function progressPrinter(stream: NodeJS.WriteStream, quiet: boolean): (event: CompressEvent) => void {
  if (quiet) return () => {};
  const tty = stream.isTTY === true;
  let lastBatchDraw = 0;
  return (event) => {
    switch (event.status) {
      case 'stage':
        if (tty) stream.write('\r\u001b[K');
        stream.write(`${event.message}\n`);
        break;
      case 'batch': {
        if (!tty) return;
        const now = Date.now();
        if (now - lastBatchDraw < 100 && event.batch !== event.batches) return;
        lastBatchDraw = now;
        const width = 24;
        const done = Math.round((event.batch / event.batches) * width);
        stream.write(`\r\u001b[Kepoch ${event.epoch}/${event.epochs} [${'='.repeat(done)}${' '.repeat(width - done)}] loss ${event.loss.toFixed(4)}`);
        break;
      }
      case 'epoch': {
        const val = event.validationLoss !== undefined ? `, validation loss ${event.validationLoss.toFixed(4)}` : '';
        if (tty) stream.write('\r\u001b[K');
        stream.write(`epoch ${event.epoch}/${event.epochs}: loss ${event.loss.toFixed(4)}${val}, ${Math.round(event.samplesPerSecond)} samples/s, ${event.seconds.toFixed(1)} s\n`);
        break;
      }
    }
  };
}
