/**
 * The demo's alert mix, built around demo/inventory.csv, demo/indicators.csv and demo/allowlist.yaml so
 * that enrichment, scoring and policy all have something to say: a beacon from a workstation to a known
 * C2 (with repeats), a trojan on a PCI database (critical asset + malicious intel: needs approval), an
 * allowlisted scanner, a blocked web attack on the DMZ, EDR-style malware via CEF, phishing-domain access
 * from an executive laptop, context events, and one unparseable line for the quarantine.
 */
export interface DemoBatch {
  source: string;
  contentType: 'application/x-ndjson' | 'text/plain';
  records: string[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
const cefTime = (ms: number) => new Date(ms).toUTCString().slice(5, 25).replace(/^(\d+) (\w+) (\d+)/, '$2 $1 $3');

interface EveAlert {
  at: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  sid: number;
  sig: string;
  category: string;
  severity: 1 | 2 | 3;
  action?: 'allowed' | 'blocked';
  http?: { hostname: string; url: string };
  flow: number;
}

function eve(a: EveAlert): string {
  return JSON.stringify({
    timestamp: iso(a.at),
    flow_id: a.flow,
    in_iface: 'eth1',
    event_type: 'alert',
    src_ip: a.src,
    src_port: a.sport,
    dest_ip: a.dst,
    dest_port: a.dport,
    proto: 'TCP',
    alert: { action: a.action ?? 'allowed', gid: 1, signature_id: a.sid, rev: 3, signature: a.sig, category: a.category, severity: a.severity },
    ...(a.http ? { http: { hostname: a.http.hostname, url: a.http.url, http_method: 'GET', protocol: 'HTTP/1.1', status: 200 } } : {}),
  });
}

export function demoBatches(now = Date.now()): DemoBatch[] {
  const m = (minutesAgo: number) => now - minutesAgo * 60_000;
  let flow = 1_000_000_000_000 + (now % 1_000_000) * 1000;
  const f = () => flow++;
  const beacon = (at: number) =>
    eve({ at, src: '10.1.2.3', sport: 50000 + (at % 10000), dst: '203.0.113.7', dport: 443, sid: 2031412, sig: 'ET MALWARE Cobalt Strike Beacon Observed', category: 'A Network Trojan was detected', severity: 1, flow: f() });
  const suricata = [
    beacon(m(42)),
    beacon(m(41)),
    beacon(m(40)),
    eve({ at: m(39), src: '10.1.2.3', sport: 51544, dst: '203.0.113.7', dport: 80, sid: 2019714, sig: 'ET TROJAN Terse alphanumeric executable downloader high likelihood of being hostile', category: 'A Network Trojan was detected', severity: 1, http: { hostname: 'evil.example', url: '/payload.exe' }, flow: f() }),
    eve({ at: m(30), src: '10.20.5.21', sport: 44120, dst: '198.51.100.23', dport: 8443, sid: 2027865, sig: 'ET TROJAN Observed Malicious SSL Cert (Cobalt Strike)', category: 'Domain Observed Used for C2 Detected', severity: 1, flow: f() }),
    eve({ at: m(25), src: '10.20.9.9', sport: 33210, dst: '10.20.1.10', dport: 445, sid: 2010935, sig: 'ET SCAN Suspicious inbound to MSSQL port 1433', category: 'Potentially Bad Traffic', severity: 2, flow: f() }),
    eve({ at: m(20), src: '203.0.113.50', sport: 61022, dst: '172.16.10.20', dport: 80, sid: 2006445, sig: "ET WEB_SERVER Possible SQL Injection Attempt SELECT FROM", category: 'Web Application Attack', severity: 1, action: 'blocked', http: { hostname: 'shop.corp.example', url: "/search?q=1' UNION SELECT password FROM users--" }, flow: f() }),
    eve({ at: m(15), src: '192.168.200.50', sport: 40001, dst: '198.51.100.99', dport: 80, sid: 2013028, sig: 'ET POLICY curl User-Agent Outbound', category: 'Attempted Information Leak', severity: 3, http: { hostname: 'downloads.example', url: '/tool.tar.gz' }, flow: f() }),
    // Context, not incidents: a flow and a DNS answer for the beaconing host.
    JSON.stringify({ timestamp: iso(m(40)), flow_id: f(), event_type: 'flow', src_ip: '10.1.2.3', src_port: 50001, dest_ip: '203.0.113.7', dest_port: 443, proto: 'TCP', flow: { pkts_toserver: 12, pkts_toclient: 10, bytes_toserver: 2048, bytes_toclient: 4096, start: iso(m(41)), end: iso(m(40)), state: 'closed' } }),
    JSON.stringify({ timestamp: iso(m(39)), flow_id: f(), event_type: 'dns', src_ip: '10.1.2.3', src_port: 53000, dest_ip: '10.20.1.10', dest_port: 53, proto: 'UDP', dns: { type: 'query', id: 4242, rrname: 'evil.example', rrtype: 'A' } }),
  ];
  const cef = [
    `CEF:0|Trend Micro|Deep Security Agent|20.0.1|4000000|Eicar_test_file|6|cn1=1 cn1Label=Host ID dvchost=fs-01.corp.example act=Quarantine filePath=C:\\\\Users\\\\Public\\\\invoice.exe fname=invoice.exe fileHash=2da3a3a1b63431feef4eb46ed6243ba18deab63183665e9ae8bb72b3460f5d1a msg=Realtime suser=CORP\\\\bob rt=${cefTime(m(12))}`,
    `CEF:0|Zscaler|NSSWeblog|5.0|Phishing|Phishing site access|8|src=10.1.5.10 dst=198.51.100.40 suser=erin@corp.example dhost=login-micros0ft.example request=https://login-micros0ft.example/owa/auth.php act=allowed cat=Phishing rt=${cefTime(m(8))}`,
  ];
  return [
    { source: 'dmz-suricata', contentType: 'application/x-ndjson', records: suricata },
    { source: 'edge-cef', contentType: 'text/plain', records: cef },
    { source: 'sensors', contentType: 'text/plain', records: ['this line is no alert format Fido knows <b>{{7*7}}</b>'] },
  ];
}
