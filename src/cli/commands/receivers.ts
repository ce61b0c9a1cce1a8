/**
 * `fido receivers [--json]`: every configured source's receiver with its health, as the process running it last
 * reported to the store (intake/health.ts), from a shell on the Fido host: the same as GET /api/v1/receivers.
 */
import type { Command } from 'commander';
import { loadConfig, ConfigInvalidError } from '../../config/load.js';
import { readReceiverHealth, type ReceiverHealth } from '../../intake/health.js';
import { lastRecordTimes } from '../../store/overview.js';
import { withCliStore } from '../store.js';

const ago = (t: number | null, now: number) => (t === null ? '—' : `${Math.max(0, Math.round((now - t) / 1000))}s ago`);

export function formatReceivers(rows: readonly ReceiverHealth[], now: number): string {
  const table = [
    ['SOURCE', 'KIND', 'STATE', 'LAST RECORD', 'RECORDS', 'LAG', 'CURSOR', 'ERROR'],
    ...rows.map((r) => [
      r.name,
      r.kind,
      r.state,
      ago(r.last_record_at, now),
      r.records === null ? '—' : String(r.records),
      r.lag_ms === null ? '—' : `${(r.lag_ms / 1000).toFixed(1)}s`,
      r.cursor ?? '—',
      r.error ?? '',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function register(program: Command): void {
  program
    .command('receivers')
    .description("Every source's receiver: state, last record, records, lag, cursor and error, as its process last reported")
    .option('-c, --config <file>', 'config file (default: $FIDO_CONFIG, else the demo configuration)')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { config?: string; json?: boolean }) => {
      let loaded;
      try {
        loaded = await loadConfig(opts.config);
      } catch (e) {
        process.stderr.write(`${e instanceof ConfigInvalidError ? e.message : `fido receivers: ${(e as Error).message}`}\n`);
        process.exitCode = 1;
        return;
      }
      await withCliStore('receivers', async (store) => {
        const now = Date.now();
        // HTTP intake is served by whichever process runs the API: from a shell it is reported by its last record.
        const rows = await readReceiverHealth(store, loaded.config.sources ?? [], await lastRecordTimes(store.db), false, now);
        process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatReceivers(rows, now)}\n`);
      });
    });
}
