/**
 * Parse rate of every detector on the shared vendor samples (records/s, single core, no I/O): each sample
 * file is parsed repeatedly through the registry with its detector named, as the normalize stage does.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDetectors, normalizeRecord, type DetectorRegistry } from '../src/detectors/lib/registry.js';

const SAMPLES = fileURLToPath(new URL('../../shared/samples/', import.meta.url));

export interface ParseRate {
  detector: string;
  records: number;
  parsed: number;
  records_per_s: number;
}

function samplesByDetector(registry: DetectorRegistry): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!existsSync(SAMPLES)) return out;
  for (const folder of readdirSync(SAMPLES, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    for (const f of readdirSync(join(SAMPLES, folder.name))) {
      if (f.endsWith('.md')) continue;
      for (const line of readFileSync(join(SAMPLES, folder.name, f), 'utf8').split('\n')) {
        if (!line.trim() || line.startsWith('#')) continue;
        const r = registry.parseRecord(line, null);
        if ('error' in r) continue;
        const list = out.get(r.detector) ?? [];
        list.push(line);
        out.set(r.detector, list);
      }
    }
  }
  return out;
}

export async function detectorParseRates(minMs = 300): Promise<ParseRate[]> {
  const registry = await loadDetectors();
  const rates: ParseRate[] = [];
  const receivedAt = new Date();
  for (const [detector, lines] of samplesByDetector(registry)) {
    let n = 0;
    let parsed = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < minMs) {
      for (const line of lines) {
        const r = normalizeRecord(registry, line, detector, { receivedAt });
        n++;
        if (!('error' in r)) parsed++;
      }
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    rates.push({ detector, records: lines.length, parsed: Math.round((parsed / n) * lines.length), records_per_s: Math.round(n / (elapsed / 1000)) });
  }
  return rates.sort((a, b) => a.detector.localeCompare(b.detector));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await detectorParseRates());
}
