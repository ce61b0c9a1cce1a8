/**
 * Every shared sample record outside one folder, as detectors see it: for asserting that a product
 * detector does not claim other products' records (its sniff stays below the registry threshold).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import type { RawRecord } from '../../src/detectors/detector.js';
import { SAMPLES, sampleLines } from './helpers.js';

const EXTENSIONS = ['.jsonl', '.ndjson', '.log', '.cef', '.leef', '.txt'];

export function foreignSampleRecords(...ownFolders: string[]): Array<{ where: string; record: RawRecord }> {
  if (!existsSync(SAMPLES)) return [];
  const out: Array<{ where: string; record: RawRecord }> = [];
  for (const folder of readdirSync(SAMPLES).sort()) {
    if (ownFolders.includes(folder) || !statSync(join(SAMPLES, folder)).isDirectory()) continue;
    for (const ext of EXTENSIONS) {
      for (const l of sampleLines(folder, ext)) out.push({ where: `${folder}/${l.file}:${l.line}`, record: rawRecord(l.text) });
    }
  }
  return out;
}
