/**
 * Shared by the detector tests: where the records live and how to read them.
 *
 *   test/fixtures/vendor-samples/<folder>/  real vendor output, copied from the project's shared/samples (see
 *                                      its README.md and each folder's SOURCE.md for where each file comes from)
 *   test/fixtures/samples/<detector>/  records written after vendor documentation, for what the shared
 *                                      samples lack (see SOURCE.md in each folder)
 *
 * A record file holds one record per line, except a file named `*.whole.<ext>`: that file is one record, as
 * a record whose nature is to span lines (a Zeek TSV log with its header, a Snort alert_full block); the
 * convention is `fido detectors test`'s (isWholeRecordFile).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { isWholeRecordFile } from '../../src/cli/records.js';

/** <repo>/test/fixtures/vendor-samples: in the repository, so that a plain clone runs every test. */
export const SAMPLES = fileURLToPath(new URL('../fixtures/vendor-samples/', import.meta.url));

/** <repo>/test/fixtures/samples: one folder per detector, named as the detector. */
export const FIXTURE_SAMPLES = fileURLToPath(new URL('../fixtures/samples/', import.meta.url));

export interface SampleLine {
  file: string;
  line: number;
  text: string;
}

/** Every non-blank line of the files in <root>/<folder> whose names end with `ext` (CR before LF dropped). */
function linesOf(root: string, folder: string, ext: string): SampleLine[] {
  const dir = join(root, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .flatMap((file) => fileLines(dir, file));
}

function fileLines(dir: string, file: string): SampleLine[] {
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .map((text, i) => ({ file, line: i + 1, text: text.replace(/\r$/, '') }))
    .filter((l) => l.text.trim() !== '');
}

/** One line (1-based) of <root>/<folder>/<file>. */
function lineOf(root: string, folder: string, file: string, line: number): string {
  const text = readFileSync(join(root, folder, file), 'utf8').split('\n')[line - 1];
  if (text === undefined) throw new Error(`${folder}/${file} has no line ${line}`);
  return text.replace(/\r$/, '');
}

/** Every non-blank line of the shared sample files in samples/<folder> whose names end with `ext`. */
export function sampleLines(folder: string, ext: string): SampleLine[] {
  return linesOf(SAMPLES, folder, ext);
}

/** One line of one shared sample file (1-based). */
export function sampleLine(folder: string, file: string, line: number): string {
  return lineOf(SAMPLES, folder, file, line);
}

/** One record of a one-record-per-line file in test/fixtures/samples/<detector> (line, 1-based). */
export function fixtureLine(detector: string, file: string, line: number): string {
  return lineOf(FIXTURE_SAMPLES, detector, file, line);
}

/** The whole text of a file in test/fixtures/samples/<detector>: a `*.whole.*` record, or a line file read as a whole. */
export function fixtureText(detector: string, file: string): string {
  return readFileSync(join(FIXTURE_SAMPLES, detector, file), 'utf8');
}

/** Every record of test/fixtures/samples/<detector>: each non-blank line of a file, or the whole text of a `*.whole.*` file. */
export function fixtureRecords(detector: string): Array<{ where: string; text: string }> {
  return readdirSync(join(FIXTURE_SAMPLES, detector))
    .filter((f) => !f.endsWith('.md'))
    .sort()
    .flatMap((file) =>
      isWholeRecordFile(file)
        ? [{ where: `${detector}/${file}`, text: fixtureText(detector, file) }]
        : fileLines(join(FIXTURE_SAMPLES, detector), file).map((l) => ({ where: `${detector}/${file}:${l.line}`, text: l.text })),
    );
}

/**
 * Runs fn on a pathological input and returns what it returned. Not a speed limit (speed is the bench's):
 * catastrophic backtracking on these inputs takes hours, which ends the test at its timeout, and how the work
 * grows with the input is linear-time.test.ts's to check, by ratios rather than by wall-clock limits.
 */
export function finishes<T>(fn: () => T): { value: T } {
  return { value: fn() };
}
