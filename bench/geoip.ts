/**
 * Cost of the geoip provider with its installed databases: time to open the country MMDB, time and memory to
 * load the ASN range CSVs into typed arrays (first lookup), and lookups per second once loaded.
 *
 *   node --expose-gc --import tsx bench/geoip.ts
 *
 * Memory is measured as heap (JS objects, including the org-name strings) plus arrayBuffers (the typed arrays
 * and the MMDB's bytes) and RSS, each after a forced GC when --expose-gc is given (otherwise the figures include
 * garbage and are upper bounds). Lookups cycle over BENCH_IPS (20,000) random public IPv4 addresses and 2,000
 * IPv6 ones from the data's own ranges, straight on the provider (no layer: an inMemory provider is called
 * directly). Env: BENCH_IPS, BENCH_JSON=1 for one JSON line.
 */
import { readFile } from 'node:fs/promises';
import { Reader } from 'maxmind';
import geoip, { DEFAULT_ASN_CSV, DEFAULT_COUNTRY_DB } from '../src/enrich/providers/geoip.js';
import { parseAsnCsv } from '../src/enrich/providers/lib/geo-asn.js';
import { isPublicAddress } from '../src/util/outbound.js';
import type { Store } from '../src/store/store.js';

const gc = (globalThis as { gc?: () => void }).gc;
const mem = () => {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss };
};
const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

const N = Number(process.env.BENCH_IPS ?? 20_000);
const out: Record<string, unknown> = { gc: Boolean(gc) };

// 1. The country MMDB alone.
let m0 = mem();
let t0 = performance.now();
const reader = new Reader(await readFile(DEFAULT_COUNTRY_DB()));
out.mmdb_open_ms = ms(t0);
let m1 = mem();
out.mmdb_buffers_mb = mb(m1.buffers - m0.buffers);
void reader;

// 2. The ASN CSVs alone: parse time per file and what the tables keep.
for (const path of DEFAULT_ASN_CSV()) {
  m0 = mem();
  t0 = performance.now();
  let read = 0;
  // In a function so that the file's bytes are garbage by the time memory is measured.
  const table = await (async () => {
    const bytes = await readFile(path);
    read = ms(t0);
    return parseAsnCsv(bytes, path);
  })();
  const total = ms(t0);
  m1 = mem();
  const name = path.split('/').at(-1)!;
  out[name] = { rows: table.rows, orgs: table.orgCount, read_ms: read, load_ms: total, heap_mb: mb(m1.heap - m0.heap), buffers_mb: mb(m1.buffers - m0.buffers), rss_mb: mb(m1.rss - m0.rss) };
  if (!table.lookup(path.includes('ipv6') ? '2001:4860:4860::8888' : '8.8.8.8')) throw new Error(`no answer from ${name}`);
}

// 3. The provider as configured by default: create, first lookup (loads the CSVs), then steady lookups.
m0 = mem();
t0 = performance.now();
const p = await geoip.create({ name: 'geo', kind: 'geoip' }, { store: null as unknown as Store, configDir: process.cwd(), now: Date.now });
out.create_ms = ms(t0);
const signal = new AbortController().signal;
t0 = performance.now();
const first = await p.lookup({ type: 'ip', value: '8.8.8.8' }, signal);
out.first_lookup_ms = ms(t0);
const m2 = mem();
out.provider_heap_mb = mb(m2.heap - m0.heap);
out.provider_buffers_mb = mb(m2.buffers - m0.buffers);
out.provider_rss_mb = mb(m2.rss - m0.rss);
out.first_answer = first.data;

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const ips: string[] = [];
while (ips.length < N) {
  const ip = [1 + Math.floor(rand() * 223), Math.floor(rand() * 256), Math.floor(rand() * 256), 1 + Math.floor(rand() * 254)].join('.');
  if (isPublicAddress(ip)) ips.push(ip);
}
for (let i = 0; i < Math.max(1, N / 10); i++) ips.push(`2${Math.floor(rand() * 0x400).toString(16).padStart(3, '0')}:${Math.floor(rand() * 0x10000).toString(16)}::${i.toString(16)}`);
let found = 0;
for (const ip of ips.slice(0, 2000)) await p.lookup({ type: 'ip', value: ip }, signal); // warm-up
t0 = performance.now();
for (const ip of ips) if ((await p.lookup({ type: 'ip', value: ip }, signal)).found) found++;
const took = performance.now() - t0;
out.lookups = ips.length;
out.lookups_per_second = Math.round(ips.length / (took / 1000));
out.found_share = Math.round((found / ips.length) * 1000) / 1000;

if (process.env.BENCH_JSON) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(22)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
