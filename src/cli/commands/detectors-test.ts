/**
 * `fido detectors test DIR [--detector NAME] [--json]`: runs every record found under DIR through the
 * detectors (auto-detection, or the one named) exactly as the normalize stage would, and reports per
 * detector how many records it read, turned into alerts or context, or quarantined (with the most common
 * reasons), and the fill rate of each key alert field. For checking a parser against a folder of real
 * records before pointing a source at it, and for seeing which fields a product actually delivers.
 *
 * Files: .jsonl / .ndjson / .log / .txt / .cef / .leef (one record per non-blank line) and .json (a JSON
 * array: one record per element; any other JSON value: one record), found recursively; hidden entries
 * and symbolic links are skipped. A file named <name>.whole.<ext> is one record as a whole: a record that
 * spans lines by nature (a Zeek TSV log with its header, a Snort alert_full block, an XML notification).
 * Exit code 0 (also when records were quarantined: that is the report), 1 when DIR holds no such file or
 * cannot be read, 2 for usage errors.
 *
 * Hook: `registerDetectorsTest(detectors)` adds the subcommand to the `fido detectors` command.
 */
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { CoverageCollector, formatCoverage, type CoverageReport } from '../../detectors/lib/coverage.js';
import { normalizeRecord, type DetectorRegistry } from '../../detectors/lib/registry.js';
import { commandRegistry } from '../detector-registry.js';

export const RECORD_FILE_EXTENSIONS = ['.jsonl', '.ndjson', '.json', '.log', '.txt', '.cef', '.leef'] as const;

/** A record file that is one record as a whole (<name>.whole.<ext>) rather than one record per line. */
export function isWholeRecordFile(file: string): boolean {
  return /\.whole\.[^./\\]+$/i.test(file);
}

export interface DetectorsTestOptions {
  detector?: string;
  json?: boolean;
  config?: string;
  tz: string;
}

export function registerDetectorsTest(detectorsCommand: Command): void {
  detectorsCommand
    .command('test')
    .description('Run the records of a directory through the detectors and report counts, quarantine reasons and field fill rates')
    .argument('<dir>', 'directory with .jsonl/.ndjson/.json/.log/.txt/.cef/.leef files (searched recursively)')
    .option('-d, --detector <name>', 'parse every record with this detector instead of auto-detecting')
    .option('--json', 'print the report as JSON')
    .option('--tz <zone>', 'time zone of timestamps written without one (IANA name or offset)', 'UTC')
    .option('-c, --config <file>', 'config whose detectors.json mappings to include (default: $FIDO_CONFIG, else the demo)')
    .action(async (dir: string, opts: DetectorsTestOptions) => {
      process.exitCode = await detectorsTestCommand(dir, opts, process.stdout, process.stderr);
    });
}

/** Runs the command; returns the exit code. `registry` replaces the CLI's (built-ins + config mappings) in tests. */
export async function detectorsTestCommand(dir: string, opts: DetectorsTestOptions, out: Writable, err: Writable, registry?: DetectorRegistry): Promise<number> {
  const reg = await commandRegistry('fido detectors test', opts, err, registry);
  if (!reg) return 2;
  const root = resolve(dir);
  let files: string[];
  try {
    files = await recordFiles(root);
  } catch (e) {
    err.write(`fido detectors test: cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  if (files.length === 0) {
    err.write(`fido detectors test: no ${RECORD_FILE_EXTENSIONS.join('/')} files under ${dir}\n`);
    return 1;
  }
  const report = await coverageOfFiles(reg, files, { detector: opts.detector === 'auto' ? undefined : opts.detector, timeZone: opts.tz });
  const text = opts.json ? `${JSON.stringify({ directory: root, files: files.map((f) => relative(root, f)), ...report }, null, 2)}\n` : formatCoverage(report);
  await new Promise<void>((done) => {
    if (!out.write(text)) out.once('drain', done);
    else done();
  });
  return 0;
}

/** Every record file under `root` (recursive, sorted; hidden entries and symlinks skipped). */
export async function recordFiles(root: string): Promise<string[]> {
  const info = await stat(root);
  if (info.isFile()) return RECORD_FILE_EXTENSIONS.some((e) => root.toLowerCase().endsWith(e)) ? [root] : [];
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 32) return;
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path, depth + 1);
      else if (e.isFile() && RECORD_FILE_EXTENSIONS.some((ext) => e.name.toLowerCase().endsWith(ext))) out.push(path);
    }
  };
  await walk(root, 0);
  return out;
}

/** Normalizes every record of the files and collects the coverage. */
export async function coverageOfFiles(registry: DetectorRegistry, files: readonly string[], opts: { detector?: string; timeZone?: string } = {}): Promise<CoverageReport> {
  const collector = new CoverageCollector();
  const receivedAt = new Date().toISOString();
  for (const file of files) {
    for await (const text of fileRecords(file)) {
      const result = normalizeRecord(registry, text, opts.detector ?? null, { receivedAt, timeZone: opts.timeZone ?? 'UTC' });
      collector.add(result, opts.detector);
    }
  }
  return collector.report();
}

/** The records of one file: the whole text for a *.whole.* file, JSON array elements for .json, else non-blank lines. */
export async function* fileRecords(file: string): AsyncGenerator<string> {
  if (isWholeRecordFile(file)) {
    const text = await readFile(file, 'utf8');
    if (text.trim() !== '') yield text;
    return;
  }
  if (file.toLowerCase().endsWith('.json')) {
    const text = await readFile(file, 'utf8');
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      value = undefined;
    }
    if (Array.isArray(value)) {
      for (const el of value) yield typeof el === 'string' ? el : (JSON.stringify(el) ?? String(el));
      return;
    }
    if (value !== undefined) {
      yield JSON.stringify(value);
      return;
    }
    // Not one JSON document: treat it as lines (NDJSON saved as .json is common).
  }
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim() !== '') yield line;
}
