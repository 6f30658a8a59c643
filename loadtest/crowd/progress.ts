/**
 * A one-line progress bar on stderr (stdout stays clean for --json). Without a terminal it prints a
 * plain line every few seconds instead of redrawing, so CI logs stay readable.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): { update(p: { connected: number; joined: number; finished: number }, total: number): void; done(): void } {
  const started = Date.now();
  let lastPrint = 0;
  let last = '';
  return {
    update(p, total) {
      const now = Date.now();
      const width = 30;
      const filled = Math.round((p.finished / Math.max(1, total)) * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      last = `${label} [${bar}] ${p.finished}/${total} done, ${p.joined} joined, ${p.connected} open, ${Math.round((now - started) / 1000)} s`;
      if (stream.isTTY) stream.write(`\r${last}\x1b[K`);
      else if (now - lastPrint >= 5000) {
        lastPrint = now;
        stream.write(`${last}\n`);
      }
    },
    done() {
      if (stream.isTTY && last) stream.write(`\r${last}\x1b[K\n`);
    },
  };
}
