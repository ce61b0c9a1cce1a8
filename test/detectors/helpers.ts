/** Shared by the detector tests: where the vendor samples live and how to read them. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** <repo>/../shared/samples (CI clones main with shared/ beside it). */
export const SAMPLES = fileURLToPath(new URL('../../../shared/samples/', import.meta.url));

export interface SampleLine {
  file: string;
  line: number;
  text: string;
}

/** Every non-blank line of the files in samples/<folder> whose names end with `ext`. */
export function sampleLines(folder: string, ext: string): SampleLine[] {
  const dir = join(SAMPLES, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .flatMap((file) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .map((text, i) => ({ file, line: i + 1, text: text.replace(/\r$/, '') }))
        .filter((l) => l.text.trim() !== ''),
    );
}

/** One line of one sample file (1-based). */
export function sampleLine(folder: string, file: string, line: number): string {
  const text = readFileSync(join(SAMPLES, folder, file), 'utf8').split('\n')[line - 1];
  if (text === undefined) throw new Error(`${folder}/${file} has no line ${line}`);
  return text.replace(/\r$/, '');
}

/** Runs fn and fails if it took longer than ms (catastrophic backtracking shows up as seconds). */
export function fastEnough<T>(ms: number, fn: () => T): { value: T; elapsed: number } {
  const t0 = performance.now();
  const value = fn();
  const elapsed = performance.now() - t0;
  if (elapsed > ms) throw new Error(`took ${elapsed.toFixed(0)} ms (limit ${ms} ms)`);
  return { value, elapsed };
}
