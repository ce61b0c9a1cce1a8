/**
 * `node --import tsx bench/parse-floor.ts [N]`: what parsing alone costs per alert on this machine, single
 * core, no I/O, on the benchmark's records — the part of the pipeline's CPU per alert that no store or data
 * model can remove:
 *
 *   json_parse_us      JSON.parse of the EVE record (the least any JSON detector must do);
 *   detector_parse_us  the Suricata detector through the registry (createNormalizer(await loadDetectors())
 *                      .normalize(record, 'suricata'), as ingest calls it), which includes its JSON.parse.
 *
 * Each is run once untimed (so the JIT has compiled it), then over all N records repeatedly for at least
 * MIN_MS, and reported in µs per alert.
 */
import { fileURLToPath } from 'node:url';
import { createNormalizer, loadDetectors } from '../src/detectors/lib/registry.js';
import { eveAlert } from './workload.js';

const MIN_MS = 1000;

export interface ParseFloor {
  records: number;
  json_parse_us: number;
  detector_parse_us: number;
}

/** µs per call of `fn` over `records`, after one untimed pass. */
function usPerRecord(records: readonly string[], fn: (text: string) => unknown): number {
  let sink = 0;
  for (const r of records) sink += fn(r) ? 1 : 0;
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (const r of records) sink += fn(r) ? 1 : 0;
    n += records.length;
    elapsed = performance.now() - t0;
  }
  // Using the results keeps the calls from being optimised away.
  if (sink < 0) console.log(sink);
  return Math.round((elapsed / n) * 10_000) / 10;
}

export async function parseFloor(n = 20_000): Promise<ParseFloor> {
  const t = Date.now();
  const records = Array.from({ length: n }, (_, i) => eveAlert(i, t, { unique: true }));
  const normalizer = createNormalizer(await loadDetectors());
  const receivedAt = new Date(t);
  return {
    records: n,
    json_parse_us: usPerRecord(records, (r) => JSON.parse(r)),
    detector_parse_us: usPerRecord(records, (r) => {
      const out = normalizer.normalize(r, 'suricata', { receivedAt });
      if (!('alerts' in out)) throw new Error(`the benchmark record did not parse: ${JSON.stringify(out)}`);
      return out;
    }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await parseFloor(Number(process.argv[2] ?? 20_000)));
}
