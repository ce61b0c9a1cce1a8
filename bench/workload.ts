/**
 * The benchmarks' alert mix: Suricata EVE alerts from 2,000 source hosts × 50 rules, one in 20 to the demo's
 * known C2 (203.0.113.7) and the rest to distinct addresses.
 *
 * By default each host's alerts to the C2 share one fingerprint, so they are repeats (5% of the mix), which
 * dedup counts instead of deciding. With `unique`, each of those goes to a port of its own: every alert has
 * a fingerprint of its own (for the first 1,280,000 indices) and makes work for the whole pipeline, as the
 * end-to-end benchmark's "N unique alerts" says.
 */
export function eveAlert(i: number, t: number, opts: { unique?: boolean } = {}): string {
  const host = i % 2000;
  const rule = 2_000_000 + ((i * 7) % 50);
  const c2 = i % 20 === 0;
  const dst = c2 ? '203.0.113.7' : `198.18.${(i >> 8) & 255}.${i & 255}`;
  // A host's C2 alerts are 2,000 indices apart, so i / 20 differs between any two of them.
  const port = c2 && opts.unique ? 1024 + (Math.floor(i / 20) % 64_000) : 443;
  return JSON.stringify({
    timestamp: new Date(t).toISOString().replace('Z', '+0000'),
    flow_id: 1e15 + i,
    event_type: 'alert',
    src_ip: `10.1.${host >> 8}.${host & 255}`,
    src_port: 40000 + (i % 20000),
    dest_ip: dst,
    dest_port: port,
    proto: 'TCP',
    alert: { action: 'allowed', gid: 1, signature_id: rule, rev: 1, signature: `ET BENCH rule ${rule}`, category: 'A Network Trojan was detected', severity: 1 + (i % 3) },
  });
}
