/**
 * `fido ingest FILE --source NAME`: appends a file's records to the intake log through the same writer as
 * HTTP intake, with a progress bar. A running Fido on the same store picks them up; --process runs the
 * pipeline here until the backlog is empty.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig } from '../../config/load.js';
import { startFido } from '../../app.js';
import { recordOfBytes, type IntakeRecord } from '../../intake/receiver.js';

const BATCH = 1000;

export function register(program: Command): void {
  program
    .command('ingest <file>')
    .description('Append alerts from a file (JSON lines or text lines) to the intake log')
    .requiredOption('-s, --source <name>', 'source name recorded on every alert')
    .option('-d, --detector <name>', 'force a detector (default: the source config, else auto-detect)')
    .option('-c, --config <file>', 'config file')
    .option('--process', 'also run the pipeline until everything ingested is decided')
    .option('--max-record-bytes <n>', 'refuse records larger than this', '262144')
    .action(async (file: string, opts: { source: string; detector?: string; config?: string; process?: boolean; maxRecordBytes: string }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(opts.source)) throw new Error(`--source "${opts.source}" is not a valid source name`);
      const path = resolve(file);
      const size = statSync(path).size;
      const loaded = await loadConfig(opts.config);
      const fido = await startFido({ loaded, offline: { worker: !!opts.process } });
      const intake = fido.intake!;
      const declared = loaded.config.sources?.find((s) => s.name === opts.source);
      const detector = opts.detector ?? (declared?.detector && declared.detector !== 'auto' ? declared.detector : null);
      const limit = Number(opts.maxRecordBytes);
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar({ format: 'ingest [{bar}] {percentage}% | {records} records | {skipped} skipped', stream: process.stderr }, cliProgress.Presets.shades_classic)
        : null;
      bar?.start(size, 0, { records: 0, skipped: 0 });
      let bytes = 0;
      let records = 0;
      let skipped = 0;
      let batch: IntakeRecord[] = [];
      const flush = async () => {
        if (!batch.length) return;
        // The offline writer has no backlog bound (the file is the backlog), so accept never pushes back.
        await intake.accept(opts.source, detector, batch);
        records += batch.length;
        batch = [];
        if (bar) bar.update(bytes, { records, skipped });
        else process.stderr.write(`ingest: ${records} records (${Math.round((bytes / Math.max(1, size)) * 100)}%)\n`);
      };
      // Read as latin1, one character per byte, so each line's bytes come back exactly (recordOfBytes keeps
      // lines that are not UTF-8 byte for byte).
      const lines = createInterface({ input: createReadStream(path, 'latin1'), crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        bytes += line.length + 1;
        if (line.trim() === '') continue;
        if (line.length > limit) {
          skipped++;
          process.stderr.write(`line ${n}: ${line.length} bytes is over --max-record-bytes ${limit}; skipped\n`);
          continue;
        }
        batch.push(recordOfBytes(Buffer.from(line, 'latin1')));
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      bar?.stop();
      if (opts.process) await fido.pipeline.drain();
      await fido.stop();
      process.stdout.write(`${records} records ingested into source ${opts.source}${skipped ? `, ${skipped} skipped` : ''}\n`);
      if (skipped) process.exitCode = 1;
    });
}
