/**
 * A stand-in for the log retrieval of the PAN-OS XML API, after Palo Alto Networks' "PAN-OS and Panorama API
 * Usage Guide" → "Retrieve Logs (API)", "API Log Retrieval Parameters" and "Example: Use the API to Retrieve
 * Traffic Logs" (9.1 … 11.x), and answers as pan-python / XSOAR's Panorama integration read them:
 *
 * - `/api/` by GET or POST (parameters in the query or a form body); the key in the `X-PAN-KEY` header
 *   (else HTTP 403 `<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>`).
 * - `type=log&log-type=<t>&nlogs=<1..5000, default 20>&skip=<n>&dir=<backward (default)|forward>&query=<filter>`
 *   → `<response status="success"><result><msg><line>query job enqueued with jobid 7</line></msg><job>7</job></result></response>`.
 * - `type=log&action=get&job-id=7` → `<job>…<status>ACT</status>…</job><log><logs count="0" progress="40"/></log>`
 *   while running, then `<status>FIN</status>` with `<logs count="N" progress="100"><entry logid="…">…</entry></logs>`.
 * - `type=log&action=finish&job-id=7` frees the job; an unknown job id is status="error".
 * - Errors: HTTP 400 `<response status="error" code="400">` for a bad parameter or query; a device under load
 *   answers 503 (or 429) with Retry-After.
 * - The query language understood here is the part Fido sends: `(field op value)` with eq, neq, geq, leq, gt,
 *   lt, joined by `and` / `or`, parentheses; numbers compare as numbers, quoted times as text (same format).
 *   Entries are ordered by receive_time, then by when they were logged (dir=forward oldest first).
 * Threat entry fields follow the XML API's names (threatid = the name, tid = the number, thr_category, …).
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export type PanosEntry = Record<string, string>;

export interface PanosLogOptions {
  key: string;
  /** How many `get`s of a job answer ACT before FIN (default 1). */
  actPolls?: number;
  /** Answer 503 with Retry-After: 1 to these request numbers (0-based, every request counted). */
  busy?: readonly number[];
  /** Answer 429 with Retry-After: 1 to these request numbers. */
  rateLimited?: readonly number[];
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
  /** Behave as a device that ignores `skip` (for the puller's guard against re-reading one page forever). */
  ignoreSkip?: boolean;
}

const LOG_TYPES = new Set(['traffic', 'threat', 'config', 'system', 'hipmatch', 'globalprotect', 'wildfire', 'url', 'data', 'corr', 'userid', 'auth', 'gtp', 'iptag', 'decryption', 'tunnel']);

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const xml = (status: number, body: string): ContractReply => ({ status, headers: { 'content-type': 'application/xml' }, body });
const error = (status: number, code: string, msg: string) => xml(status, `<response status="error" code="${code}"><msg><line>${esc(msg)}</line></msg></response>`);

// ---- the query language, the part Fido sends -------------------------------------------------------------

type Pred = (e: PanosEntry) => boolean;

function tokens(q: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (c === ' ') i++;
    else if (c === '(' || c === ')') (out.push(c), i++);
    else if (c === "'" || c === '"') {
      const end = q.indexOf(c, i + 1);
      if (end < 0) return null;
      out.push(q.slice(i, end + 1));
      i = end + 1;
    } else {
      let j = i;
      while (j < q.length && !' ()\'"'.includes(q[j]!)) j++;
      out.push(q.slice(i, j));
      i = j;
    }
  }
  return out;
}

/** A predicate for the query, or null when it is not one this stand-in (and PAN-OS) accepts. */
export function parseQuery(q: string): Pred | null {
  const t = tokens(q.trim());
  if (!t) return null;
  let i = 0;
  const or = (): Pred | null => {
    let left = and();
    while (left && t[i] === 'or') {
      i++;
      const right = and();
      if (!right) return null;
      const l = left;
      left = (e) => l(e) || right(e);
    }
    return left;
  };
  const and = (): Pred | null => {
    let left = atom();
    while (left && t[i] === 'and') {
      i++;
      const right = atom();
      if (!right) return null;
      const l = left;
      left = (e) => l(e) && right(e);
    }
    return left;
  };
  const atom = (): Pred | null => {
    if (t[i] !== '(') return null;
    i++;
    let p: Pred | null;
    if (t[i] === '(') p = or();
    else {
      const [field, op, raw] = [t[i], t[i + 1], t[i + 2]];
      if (!field || !op || raw === undefined || !/^[a-z_.]+$/.test(field)) return null;
      i += 3;
      const quoted = raw.startsWith("'") || raw.startsWith('"');
      const value = quoted ? raw.slice(1, -1) : raw;
      const cmp = (a: string): number => (!quoted && /^\d+$/.test(value) && /^\d+$/.test(a) ? Number(BigInt(a) - BigInt(value) > 0n) - Number(BigInt(a) - BigInt(value) < 0n) : a < value ? -1 : a > value ? 1 : 0);
      const ops: Record<string, (c: number) => boolean> = { eq: (c) => c === 0, neq: (c) => c !== 0, geq: (c) => c >= 0, leq: (c) => c <= 0, gt: (c) => c > 0, lt: (c) => c < 0 };
      const f = ops[op];
      if (!f) return null;
      p = (e) => e[field] !== undefined && f(cmp(e[field]!));
    }
    if (!p || t[i] !== ')') return null;
    i++;
    return p;
  };
  const p = or();
  return p && i === t.length ? p : null;
}

// ---- the server --------------------------------------------------------------------------------------------

interface Job {
  entries: PanosEntry[];
  polls: number;
}

export async function panosLogServer(opts: PanosLogOptions) {
  const logs = new Map<string, PanosEntry[]>();
  const jobs = new Map<string, Job>();
  const finished: string[] = [];
  let lastJob = 0;
  let logid = 7_170_591_049_594_200_000n;
  const seqnos = new Map<string, bigint>();

  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (r.headers['x-pan-key'] !== opts.key) {
      return xml(403, `<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>`);
    }
    if (opts.busy?.includes(n)) return { ...error(503, '503', 'Server busy, try again later'), headers: { 'content-type': 'application/xml', 'retry-after': '1' } };
    if (opts.rateLimited?.includes(n)) return { ...error(429, '429', 'Too many requests'), headers: { 'content-type': 'application/xml', 'retry-after': '1' } };
    if (r.path !== '/api/' || (r.method !== 'GET' && r.method !== 'POST')) return error(400, '400', 'Bad request');
    const p = new Map([...r.query, ...(r.method === 'POST' ? [...r.form] : [])]);
    if (p.get('type') !== 'log') return error(400, '400', 'Unknown type');
    const action = p.get('action');
    if (action === 'get' || action === 'finish') {
      const id = p.get('job-id') ?? '';
      const job = jobs.get(id);
      if (!job) return xml(200, `<response status="error"><msg><line>Job ${esc(id)} not found</line></msg></response>`);
      if (action === 'finish') {
        jobs.delete(id);
        finished.push(id);
        return xml(200, `<response status="success"><result><job>${id}</job><msg><line>Job ${id} finished</line></msg></result></response>`);
      }
      const head = `<tenq>10:00:00</tenq><tdeq>10:00:00</tdeq><tlast>10:00:01</tlast><id>${id}</id>`;
      if (job.polls-- > 0) {
        return xml(200, `<response status="success"><result><job>${head}<status>ACT</status><cached-logs>0</cached-logs></job><log><logs count="0" progress="40"/></log></result></response>`);
      }
      const body = job.entries
        .map((e) => `<entry logid="${esc(e['logid'] ?? '')}">${Object.entries(e).filter(([k]) => k !== 'logid').map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join('')}</entry>`)
        .join('');
      return xml(200, `<response status="success"><result><job>${head}<status>FIN</status><cached-logs>${job.entries.length}</cached-logs></job><log><logs count="${job.entries.length}" progress="100">${body}</logs></log></result></response>`);
    }
    if (action !== undefined) return error(400, '400', `Unknown action ${action}`);
    const logType = p.get('log-type') ?? '';
    if (!LOG_TYPES.has(logType)) return error(400, '400', `Invalid log-type ${logType}`);
    const nlogs = Number(p.get('nlogs') ?? '20');
    const skip = opts.ignoreSkip ? 0 : Number(p.get('skip') ?? '0');
    const dir = p.get('dir') ?? 'backward';
    if (!Number.isInteger(nlogs) || nlogs < 1 || nlogs > 5000) return error(400, '400', 'nlogs must be 1 to 5000');
    if (!Number.isInteger(skip) || skip < 0) return error(400, '400', 'skip must be a number');
    if (dir !== 'forward' && dir !== 'backward') return error(400, '400', 'dir must be forward or backward');
    const q = p.get('query');
    const pred = q === undefined || q === '' ? () => true : parseQuery(q);
    if (!pred) return error(400, '400', `Invalid query: ${q}`);
    const all = (logs.get(logType) ?? []).map((e, i) => ({ e, i }));
    all.sort((a, b) => (a.e['receive_time']! < b.e['receive_time']! ? -1 : a.e['receive_time']! > b.e['receive_time']! ? 1 : a.i - b.i));
    if (dir === 'backward') all.reverse();
    const picked = all.map((x) => x.e).filter(pred).slice(skip, skip + nlogs);
    const id = String(++lastJob);
    jobs.set(id, { entries: picked, polls: opts.actPolls ?? 1 });
    return xml(200, `<response status="success"><result><msg><line>query job enqueued with jobid ${id}</line></msg><job>${id}</job></result></response>`);
  });

  return {
    ...srv,
    logs,
    /** Job ids still open (never finished). */
    openJobs: () => [...jobs.keys()],
    finished,
    /** Logs an entry of `logType`: the firewall gives it a logid and the next seqno of its serial and type. */
    log(logType: string, fields: PanosEntry): PanosEntry {
      const serial = fields['serial'] ?? '007051000057432';
      const k = `${serial}/${logType}`;
      const seq = (seqnos.get(k) ?? 30_000n) + 1n;
      seqnos.set(k, seq);
      const e: PanosEntry = { logid: String(++logid), domain: '1', receive_time: '2026/12/07 10:00:00', serial, seqno: String(seq), ...fields };
      const list = logs.get(logType) ?? [];
      list.push(e);
      logs.set(logType, list);
      return e;
    },
  };
}

/** A THREAT entry (vulnerability) in the XML API's field names; `i` varies the session, source port and name. */
export function threatFields(i: number, over: PanosEntry = {}): PanosEntry {
  return {
    actionflags: '0x0',
    type: 'THREAT',
    subtype: 'vulnerability',
    config_ver: '2049',
    time_generated: '2026/12/07 10:00:00',
    src: '10.84.12.242',
    dst: '192.0.2.67',
    natsrc: '198.51.100.150',
    natdst: '192.0.2.67',
    rule: 'Outbound-Web',
    srcuser: 'corp\\alice',
    dstuser: '',
    app: 'web-browsing',
    vsys: 'vsys1',
    from: 'Inside',
    to: 'Outside',
    inbound_if: 'ae1.1324',
    outbound_if: 'ae2.497',
    logset: 'default',
    time_received: '2026/12/07 10:00:00',
    sessionid: String(2_398_800 + i),
    repeatcnt: '1',
    sport: String(50_000 + i),
    dport: '80',
    natsport: '14918',
    natdport: '80',
    flags: '0x1402000',
    proto: 'tcp',
    action: 'reset-both',
    misc: 'www.example.com/index.php?id=1',
    threatid: `Test Vulnerability ${i}`,
    tid: String(30_000 + i),
    category: 'computer-and-internet-info',
    severity: 'critical',
    direction: 'client-to-server',
    srcloc: '10.0.0.0-10.255.255.255',
    dstloc: 'US',
    thr_category: 'code-execution',
    vsys_name: 'vsys1',
    device_name: 'PA-5250',
    ...over,
  };
}
