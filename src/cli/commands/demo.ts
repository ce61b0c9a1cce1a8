/** `fido demo`: posts the demo alert mix to a running Fido over HTTP, as a sensor would. */
import type { Command } from 'commander';
import { demoBatches } from '../../demo/alerts.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('Post a realistic mix of sample alerts to a running Fido')
    .option('--url <url>', 'Fido API base URL', process.env.FIDO_URL ?? 'http://127.0.0.1:8700')
    .option('--token <token>', 'admin or analyst API token (default: $FIDO_TOKEN)', process.env.FIDO_TOKEN)
    .action(async (opts: { url: string; token?: string }) => {
      if (!opts.token) throw new Error('--token (or FIDO_TOKEN) is required: use the token `fido start` printed');
      let total = 0;
      for (const batch of demoBatches()) {
        const res = await fetch(new URL(`/api/v1/alerts/${encodeURIComponent(batch.source)}`, opts.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${opts.token}`, 'content-type': batch.contentType },
          body: batch.records.join('\n'),
        });
        const body = (await res.json()) as { accepted?: number; message?: string };
        if (res.status !== 202) throw new Error(`${batch.source}: HTTP ${res.status}: ${body.message ?? ''}`);
        total += body.accepted ?? 0;
        process.stdout.write(`${batch.source}: ${body.accepted} records accepted\n`);
      }
      process.stdout.write(`${total} records posted. Incidents: ${new URL('/api/v1/incidents', opts.url).toString()}\n`);
    });
}
