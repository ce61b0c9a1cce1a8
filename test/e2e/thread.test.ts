/**
 * `fido start` runs the pipeline in a worker thread: a thread that cannot start stops the start, with the
 * reason; while it works, /metrics carries its series on every scrape, never going down, and its threads
 * carry their names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIDO_BIN, startFidoProcess, waitFor } from '../support/fido-process.js';
import { startPeers } from '../support/e2e.js';
import { tempDir } from '../support/stores.js';

const demo = fileURLToPath(new URL('../../demo/', import.meta.url));

test('fido start: a pipeline thread that cannot start (a missing data file) stops the start and says why', () => {
  const dir = tempDir('fido-thread-');
  try {
    // The demo config, its data files by absolute path, with the inventory pointing nowhere.
    const config = readFileSync(join(demo, 'fido.yaml'), 'utf8')
      .replace(/file: (\S+\.(?:csv|yaml))/g, (_m, f: string) => `file: ${join(demo, f)}`)
      .replace(/file: \S*inventory\.csv/, `file: ${join(dir, 'missing-inventory.csv')}`);
    assert.match(config, /missing-inventory\.csv/);
    writeFileSync(join(dir, 'fido.yaml'), config);
    const r = spawnSync(process.execPath, [FIDO_BIN, 'start', '-c', join(dir, 'fido.yaml')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FIDO_DATA_DIR: join(dir, 'data'), FIDO_PORT: '0', FIDO_LOG_LEVEL: 'silent' },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /pipeline thread: .*missing-inventory\.csv.*ENOENT/);
    assert.doesNotMatch(r.stdout, /Fido is running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The counter and histogram series of a Prometheus text (their values only go up while the process lives). */
function counterSeries(text: string): Map<string, number> {
  const monotonic = new Set([...text.matchAll(/^# TYPE (\w+) (?:counter|histogram)$/gm)].map((m) => m[1]!));
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^((\w+?)(?:_bucket|_count|_sum)?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m && monotonic.has(m[2]!)) series.set(m[1]!, Number(m[3]));
  }
  return series;
}

test('fido start: every /metrics scrape carries the pipeline thread\'s series while it works; no counter goes down', { timeout: 180_000 }, async () => {
  const token = 'thread-admin-token-0123456789';
  const peers = await startPeers('fido-thread-metrics-', token);
  const proc = await startFidoProcess(peers.env);
  try {
    const headers = { authorization: `Bearer ${token}` };
    const decide = 'fido_stage_processed_total{stage="decide"}';
    let previous = new Map<string, number>();
    let scrapes = 0;
    const scrape = async () => {
      const r = await fetch(`${proc.url}/metrics`, { headers });
      assert.equal(r.status, 200);
      const now = counterSeries(await r.text());
      for (const [name, value] of previous) {
        // A series that vanishes or goes down is a counter reset to Prometheus.
        assert.ok(now.has(name), `scrape ${scrapes}: ${name} vanished`);
        assert.ok(now.get(name)! >= value, `scrape ${scrapes}: ${name} went down from ${value} to ${now.get(name)}`);
      }
      previous = now;
      scrapes++;
      return now;
    };

    // Alerts pour in while a scraper reads /metrics back to back.
    let feeding = true;
    const scraper = (async () => {
      while (feeding) await scrape();
    })();
    scraper.catch(() => (feeding = false)); // a failed scrape stops the feeding; `await scraper` reports it
    for (let n = 0; n < 1500 && feeding; n += 50) {
      const body = Array.from({ length: 50 }, (_, k) => alert(n + k)).join('\n');
      const r = await fetch(`${proc.url}/api/v1/alerts/ids`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-ndjson' }, body });
      assert.equal(r.status, 202, await r.text());
    }
    feeding = false;
    await scraper;

    // The thread's series (only the thread decides) appear, and stay while it runs.
    await waitFor('the pipeline thread\'s decide series in /metrics', async () => ((await scrape()).get(decide) ? true : undefined));
    for (let i = 0; i < 5; i++) assert.ok((await scrape()).get(decide)! > 0);
    assert.ok(scrapes > 5, `scraped ${scrapes} times`);
    // The operating system shows which thread is which (top -H; the benchmark's CPU by thread).
    const pid = proc.child.pid!;
    const names = readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    for (const name of ['fido-ingest', 'fido-parse', 'fido-incidents', 'fido-cel']) assert.ok(names.includes(name), `${name} among ${names.join(', ')}`);
  } finally {
    await proc.kill('SIGKILL');
    await peers.close();
  }
});

function alert(n: number): string {
  const host = n % 50;
  return JSON.stringify({
    timestamp: new Date().toISOString(),
    flow_id: 7e14 + n,
    event_type: 'alert',
    src_ip: `10.7.0.${host}`,
    src_port: 30000 + n,
    dest_ip: '203.0.113.9',
    dest_port: 443,
    proto: 'TCP',
    alert: { action: 'allowed', signature_id: 3100000 + (n % 3), signature: `THREAD test rule ${n % 3}`, category: 'A Network Trojan was detected', severity: 2 },
  });
}
