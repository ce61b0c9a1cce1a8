/**
 * `fido detectors test DIR [--detector NAME] [--json]`: runs every record found under DIR through the
 * detectors (auto-detection, or the one named) exactly as the normalize stage would, and reports per
 * detector how many records it read, turned into alerts or context, or quarantined (with the most common
 * reasons), and the fill rate of each key alert field. For checking a parser against a folder of real
 * records before pointing a source at it, and for seeing which fields a product actually delivers.
 *
 * Files: .jsonl / .ndjson / .json / .log / .txt / .cef / .leef / .eml / .xml, found recursively (hidden
 * entries and symbolic links skipped), split into records exactly as `fido normalize` splits its input
 * (cli/records.ts: lines, JSON arrays, e-mail and XML documents whole, Snort alert_full blocks; a file
 * named <name>.whole.<ext> is one record as a whole).
 * Exit code 0 (also when records were quarantined: that is the report), 1 when DIR holds no such file or
 * cannot be read, 2 for usage errors.
 *
 * Hook: `registerDetectorsTest(detectors)` adds the subcommand to the `fido detectors` command.
 */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { CoverageCollector, formatCoverage, type CoverageReport } from '../../detectors/lib/coverage.js';
import { normalizeRecord, type DetectorRegistry } from '../../detectors/lib/registry.js';
import { commandRegistry } from '../detector-registry.js';
import { RECORD_FILE_EXTENSIONS, fileRecords } from '../records.js';


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
    for await (const { text } of fileRecords(file)) {
      const result = normalizeRecord(registry, text, opts.detector ?? null, { receivedAt, timeZone: opts.timeZone ?? 'UTC' });
      collector.add(result, opts.detector);
    }
  }
  return collector.report();
}
