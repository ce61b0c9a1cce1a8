/**
 * Parse rate of every detector (records/s, single core, no I/O) on its records: the shared vendor samples
 * (test/fixtures/vendor-samples, copied from shared/samples) and the documentation-based records of test/fixtures/samples.
 * Every record is parsed repeatedly through the registry with its detector named, as the normalize stage
 * does for a source configured with a detector. Detectors without any record are listed with records 0.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadDetectors, normalizeRecord, type DetectorRegistry } from '../src/detectors/lib/registry.js';
import { FIXTURE_SAMPLES, SAMPLES, fixtureRecords, sampleLines } from '../test/detectors/helpers.js';

/** vendor-samples folders named after the product rather than the detector that reads them. */
const SHARED_FOLDER_DETECTOR: Readonly<Record<string, string>> = {
  fireeye_nx: 'fireeye',
  fortinet_fortigate: 'fortigate',
  panw_globalprotect_vpn: 'panos_globalprotect',
  panw_panos_threat: 'panos',
};

export interface ParseRate {
  detector: string;
  records: number;
  parsed: number;
  records_per_s: number;
}

function folders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Every record by the detector that reads it; every registered detector has an entry. */
export function recordsByDetector(registry: DetectorRegistry): Map<string, string[]> {
  const out = new Map<string, string[]>(registry.list().map((d) => [d.name, []]));
  const add = (detector: string, where: string, texts: string[]) => {
    const list = out.get(detector);
    if (!list) throw new Error(`${where}: no detector named ${detector}`);
    list.push(...texts);
  };
  // Shared samples: one record per line; Zeek TSV header lines (#…) are not records.
  for (const folder of folders(SAMPLES)) {
    const lines = sampleLines(folder, '').filter((l) => !l.file.endsWith('.md') && !l.text.startsWith('#'));
    add(SHARED_FOLDER_DETECTOR[folder] ?? folder, `vendor-samples/${folder}`, lines.map((l) => l.text));
  }
  for (const detector of folders(FIXTURE_SAMPLES)) {
    add(detector, `test/fixtures/samples/${detector}`, fixtureRecords(detector).map((r) => r.text));
  }
  return out;
}

export async function detectorParseRates(minMs = 300): Promise<ParseRate[]> {
  const registry = await loadDetectors();
  const rates: ParseRate[] = [];
  const receivedAt = new Date();
  for (const [detector, records] of recordsByDetector(registry)) {
    if (records.length === 0) {
      rates.push({ detector, records: 0, parsed: 0, records_per_s: 0 });
      continue;
    }
    let n = 0;
    let parsed = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < minMs) {
      for (const text of records) {
        const r = normalizeRecord(registry, text, detector, { receivedAt });
        n++;
        if (!('error' in r)) parsed++;
      }
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    rates.push({ detector, records: records.length, parsed: Math.round((parsed / n) * records.length), records_per_s: Math.round(n / (elapsed / 1000)) });
  }
  return rates.sort((a, b) => a.detector.localeCompare(b.detector));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await detectorParseRates());
}
