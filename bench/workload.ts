/**
 * The benchmarks' alert mix: Suricata EVE alerts from 2,000 source hosts × 50 rules, one in 20 to the demo's
 * known C2 (203.0.113.7) and the rest to distinct addresses.
 */
export function eveAlert(i: number, t: number): string {
  const host = i % 2000;
  const rule = 2_000_000 + ((i * 7) % 50);
  const dst = i % 20 === 0 ? '203.0.113.7' : `198.18.${(i >> 8) & 255}.${i & 255}`;
  return JSON.stringify({
    timestamp: new Date(t).toISOString().replace('Z', '+0000'),
    flow_id: 1e15 + i,
    event_type: 'alert',
    src_ip: `10.1.${host >> 8}.${host & 255}`,
    src_port: 40000 + (i % 20000),
    dest_ip: dst,
    dest_port: 443,
    proto: 'TCP',
    alert: { action: 'allowed', gid: 1, signature_id: rule, rev: 1, signature: `ET BENCH rule ${rule}`, category: 'A Network Trojan was detected', severity: 1 + (i % 3) },
  });
}
