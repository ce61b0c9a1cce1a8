/**
 * `fido normalize --detector NAME|auto [FILE|-] [--raw]`: parses alerts offline and prints one canonical
 * Alert per line (NDJSON), context events as {"context": …} lines. The input is split into records as
 * `fido detectors test` splits a file (cli/records.ts): text lines or NDJSON, a JSON array (each element one
 * record), an e-mail message or XML document whole, Snort alert_full blocks; `--whole` reads it as one record.
 * Every record that cannot be
 * parsed is reported on stderr as "line N: reason" ("element N" inside a JSON array) and the exit code is
 * 1 at the end; the rest is still printed.
 */
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Alert, AlertDraft } from '../../model/alert.js';
import { severityLabel } from '../../model/alert.js';
import { normalizeRecord, type DetectorRegistry } from '../../detectors/lib/registry.js';
import { ulid } from '../../util/ulid.js';
import { commandRegistry } from '../detector-registry.js';
import { isWholeRecordFile, readRecords } from '../records.js';

export interface NormalizeCommandOptions {
  detector: string;
  raw?: boolean;
  /** The whole input is one record (also for a file named <name>.whole.<ext>). */
  whole?: boolean;
  tz: string;
  config?: string;
}

export function register(program: Command): void {
  program
    .command('normalize')
    .description('Parse alerts offline and print canonical Alerts as NDJSON (raw omitted unless --raw)')
    .argument('[file]', 'input file, or - for standard input', '-')
    .option('-d, --detector <name>', 'detector name, or auto to detect each record', 'auto')
    .option('--raw', 'include the raw record in each alert')
    .option('--whole', 'read the whole input as one record (e-mail messages and XML documents are read whole anyway)')
    .option('--tz <zone>', 'time zone of timestamps written without one (IANA name or offset)', 'UTC')
    .option('-c, --config <file>', 'config whose detectors.json mappings to use (default: $FIDO_CONFIG, else the demo)')
    .action(async (file: string, opts: NormalizeCommandOptions) => {
      process.exitCode = await normalizeCommand(file, opts, process.stdout, process.stderr);
    });
}

/**
 * Runs the command; returns the exit code (0, 1 when some input could not be parsed, 2 for usage errors).
 * `registry` replaces the one built from the config (tests).
 */
export async function normalizeCommand(file: string, opts: NormalizeCommandOptions, out: Writable, err: Writable, registry?: DetectorRegistry): Promise<number> {
  const reg = await commandRegistry('fido normalize', opts, err, registry, ', or auto');
  if (!reg) return 2;
  let input: Readable;
  try {
    input = await openInput(file);
  } catch (e) {
    err.write(`fido normalize: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  // A closed pipe (`fido normalize … | head`) ends the run quietly instead of crashing on EPIPE.
  let closed = false;
  out.on('error', () => {
    closed = true;
  });
  let failed = 0;
  for await (const rec of readRecords(input, { whole: opts.whole === true || (file !== '-' && isWholeRecordFile(file)), json: file.toLowerCase().endsWith('.json') })) {
    if (closed) break;
    const ok = await emit(reg, rec.text, opts, out);
    if (ok !== true) {
      failed++;
      err.write(`${rec.where}: ${ok.replace(/\n/g, ' ')}\n`);
    }
  }
  return failed ? 1 : 0;
}

async function openInput(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  const stream = createReadStream(file, { encoding: 'utf8' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  return stream;
}

/** Prints the alerts or context events of one record; returns true, or the reason it failed. */
async function emit(registry: DetectorRegistry, text: string, opts: NormalizeCommandOptions, out: Writable): Promise<true | string> {
  const receivedAt = new Date().toISOString();
  const r = normalizeRecord(registry, text, opts.detector, { receivedAt, timeZone: opts.tz });
  if ('error' in r) return r.detector ? `${r.detector}: ${r.error}` : r.error;
  if ('context' in r) {
    for (const event of r.context) await write(out, { context: { detector: r.detector, ...event } });
    return true;
  }
  for (const draft of r.alerts) await write(out, toAlert(draft, r.detector, receivedAt, opts.raw ? text : undefined));
  return true;
}

/** An offline Alert: a fresh ULID, source "cli", received now; keys in DESIGN.md §3 order. */
function toAlert(d: AlertDraft, detector: string, receivedAt: string, raw: string | undefined): Omit<Alert, 'raw'> & { raw?: string } {
  return {
    id: ulid(),
    source: 'cli',
    detector,
    vendor_id: d.vendor_id,
    time: d.time,
    received_at: receivedAt,
    title: d.title,
    rule: d.rule,
    severity: d.severity,
    severity_label: d.severity_label ?? severityLabel(d.severity),
    vendor_severity: d.vendor_severity,
    action: d.action,
    src: d.src,
    dst: d.dst,
    host: d.host,
    user: d.user,
    file: d.file,
    process: d.process,
    url: d.url,
    domain: d.domain,
    email: d.email,
    malware: d.malware,
    // Not in DESIGN.md §3: after the pinned keys, so that their order stays as documented.
    event_type: d.event_type,
    device: d.device,
    observables: d.observables,
    raw,
  };
}

async function write(out: Writable, value: unknown): Promise<void> {
  if (out.destroyed || out.writableEnded) return;
  if (!out.write(`${JSON.stringify(value)}\n`)) {
    await new Promise<void>((resolve) => {
      out.once('drain', resolve);
      out.once('error', resolve);
      out.once('close', resolve);
    });
  }
}
