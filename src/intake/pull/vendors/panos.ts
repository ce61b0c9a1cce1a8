/**
 * Palo Alto Networks PAN-OS logs through the XML API's log retrieval (PAN-OS and Panorama API Usage Guide,
 * "Retrieve Logs (API)", 9.1 … 11.x): an asynchronous job per page.
 *
 *   1. `type=log&log-type=<t>&nlogs=<page>&skip=<k>&dir=forward&query=<filter>` → `<result><job>7</job>`
 *   2. `type=log&action=get&job-id=7` until `<job><status>FIN</status>` (ACT or PEND meanwhile; polled every
 *      `job_poll_interval`, at most `job_timeout`) → `<log><logs count=…><entry logid=…>…</entry></logs>`
 *   3. `type=log&action=finish&job-id=7` frees the job on the device (best effort).
 *
 * The key goes in the X-PAN-KEY header only (never in a URL); the parameters in a POST form body.
 * Netflix FIDO (panv1) slept a fixed 10 s, read whatever one fixed query returned each time and deduplicated in
 * memory; it never freed its jobs and had no position to resume from. Here each log type (`log_types`) has its
 * own position in the one cursor, committed with the page's records:
 *
 * - `cursor_field: seqno` (default; one firewall): the sequence number the firewall gives every log of a type,
 *   incremented by one per log. The next query is `(seqno geq N)` oldest first, and N becomes the page's
 *   largest seqno + 1. This relies on a firewall storing a log type in seqno order (what dir=forward returns);
 *   entries of several serials in one answer mean the device is Panorama, and the puller stops saying so.
 * - `cursor_field: receive_time` (Panorama, where each firewall has its own seqno space): the newest receive
 *   time taken and the "<serial>:<seqno>" ids taken at it (watermark.ts). The query is
 *   `(receive_time geq 'T')` with `skip` = the ids already taken at T, so more records in one second than a
 *   page are read past (PAN-OS answers one second's records in a stable order); ids taken at T are skipped
 *   if they come again. A log that reaches Panorama late with an older receive time than the watermark is missed.
 *
 * Times in queries are the device's wall clock ("YYYY/MM/DD HH:MM:SS", no zone): `time_zone` says which zone
 * that is, for the first query only (now − `start`); after that only times the device wrote are sent back.
 * Query text is built from numbers and checked times only; the admin's `filter` is checked (balanced quotes
 * and parentheses, no control characters) and wrapped in parentheses, so it cannot undo the position.
 *
 * Each entry becomes one JSON record, element name → text ({"type":"THREAT","subtype":"vulnerability",
 * "src":…,"threatid":…,"tid":…,"seqno":…,"logid":…}), read by the panos detector, keyed
 * "<serial>:<log type>:<seqno>" so a page stored twice is stored once.
 */
import { Type } from 'typebox';
import { Duration } from '../../../config/schema.js';
import { parseDuration } from '../../../config/duration.js';
import { RemoteError, secretSetting, type RemoteRequest } from '../../../enrich/remote.js';
import { allText, descendants, parseXml, type XmlElement } from '../../../util/xml.js';
import type { IntakeRecord } from '../../receiver.js';
import { definePuller, pullerSchema, type PullContext, type PullDriver } from '../puller.js';
import { advanceWatermark, emptyWatermark, queryFrom, watermarkOf, type Watermark } from '../watermark.js';

export const PANOS_LOG_TYPES = ['threat', 'url', 'wildfire', 'data', 'traffic', 'system', 'config', 'userid', 'auth', 'decryption', 'hipmatch', 'globalprotect', 'iptag', 'gtp', 'tunnel', 'corr'] as const;
type LogType = (typeof PANOS_LOG_TYPES)[number];

const PanosSchema = pullerSchema('panos', {
  api_key: Type.String({ minLength: 1, description: 'A PAN-OS API key (an admin role with log read access), as a secret reference: ${env:PANOS_API_KEY}' }),
  log_types: Type.Optional(
    Type.Array(Type.Union(PANOS_LOG_TYPES.map((t) => Type.Literal(t))), { minItems: 1, uniqueItems: true, description: 'Log types read, each with its own position (default [threat])' }),
  ),
  filter: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: "A PAN-OS log filter added to every query, e.g. (severity geq high); wrapped in parentheses" })),
  cursor_field: Type.Optional(Type.Union([Type.Literal('seqno'), Type.Literal('receive_time')], { description: 'seqno (a firewall, default) or receive_time (Panorama: several firewalls)' })),
  time_zone: Type.Optional(Type.String({ minLength: 1, description: "The device clock's zone (IANA), for the first query's start time (default UTC)" })),
  job_poll_interval: Type.Optional(Duration),
  job_timeout: Type.Optional(Duration),
});

/** A log type's position: the next seqno (seqno mode) or a receive-time watermark (receive_time mode). */
export type PanosPosition = { seqno: string } | { wm: Watermark };

export interface PanosCursor {
  v: 1;
  types: Partial<Record<LogType, PanosPosition>>;
}

const PATH = '/api/';
const SEQNO = /^[0-9]{1,20}$/;
const DEVICE_TIME = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)$/;

/** Why a filter cannot be put inside parentheses of a query, or null: quotes and parentheses balanced, no control characters. */
export function filterProblem(filter: string): string | null {
  let depth = 0;
  let quote: string | null = null;
  for (const ch of filter) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return 'contains a control character';
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return 'closes a parenthesis it did not open';
  }
  if (quote) return `leaves a ${quote} quote open`;
  return depth === 0 ? null : 'leaves a parenthesis open';
}

/** The device's wall clock at `ms` in `timeZone`, written as if it were UTC (times are only compared with the device's own). */
function deviceWallMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
  const p = (t: string) => Number(parts.find((x) => x.type === t)?.value);
  return Date.UTC(p('year'), p('month') - 1, p('day'), p('hour'), p('minute'), p('second'));
}

/** "2026/12/07 10:00:01" → "2026-12-07T10:00:01Z" (the device clock as pseudo-UTC), or null. */
function isoOfDevice(t: string | undefined): string | null {
  const m = t === undefined ? null : DEVICE_TIME.exec(t);
  if (!m) return null;
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
  return Number.isFinite(Date.parse(iso)) ? iso : null;
}

/** Pseudo-UTC ms → "YYYY/MM/DD HH:MM:SS" for a query. */
function deviceTimeOf(ms: number): string {
  const s = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return `${s.slice(0, 4)}/${s.slice(5, 7)}/${s.slice(8, 10)} ${s.slice(11, 19)}`;
}

/** One log entry as a flat object: element name → text (the first of a name), the entry's logid attribute. */
export function entryObject(entry: XmlElement): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>; // an element named __proto__ is data
  for (const c of entry.children) {
    if (Object.hasOwn(out, c.name)) continue;
    out[c.name] = c.children.length ? allText(c) : c.text;
  }
  if (entry.attrs['logid'] !== undefined && !Object.hasOwn(out, 'logid')) out['logid'] = entry.attrs['logid'];
  return out;
}

interface Answer {
  root: XmlElement;
  result: XmlElement | undefined;
}

const child = (el: XmlElement | undefined, name: string): XmlElement | undefined => el?.children.find((c) => c.name === name);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => (signal.removeEventListener('abort', stop), resolve()), ms);
    const stop = () => (clearTimeout(t), reject(signal.reason as Error));
    signal.addEventListener('abort', stop, { once: true });
  });

const panos = definePuller({
  vendor: 'panos',
  description: 'Palo Alto Networks PAN-OS / Panorama logs (XML API type=log jobs: enqueue, get until FIN, finish), one position per log type',
  schema: PanosSchema,
  maxPageSize: 5000,
  defaultPageSize: 500,
  check(config) {
    const out: { key: string; message: string }[] = [];
    if (config.filter !== undefined) {
      const p = filterProblem(config.filter);
      if (p) out.push({ key: 'filter', message: p });
    }
    if (config.time_zone !== undefined) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: config.time_zone });
      } catch {
        out.push({ key: 'time_zone', message: `"${config.time_zone}" is not an IANA time zone` });
      }
    }
    for (const k of ['job_poll_interval', 'job_timeout'] as const) {
      try {
        if (config[k] !== undefined) parseDuration(config[k], k);
      } catch (e) {
        out.push({ key: k, message: (e as Error).message });
      }
    }
    return out;
  },
  create(config, build): PullDriver<PanosCursor> {
    const key = `sources.${config.name}.receiver`;
    const apiKey = secretSetting(config.api_key, `${key}.api_key`);
    const client = build.client({ headers: { 'x-pan-key': apiKey }, secrets: [apiKey] });
    const types: readonly LogType[] = config.log_types ?? ['threat'];
    const mode = config.cursor_field ?? 'seqno';
    const zone = config.time_zone ?? 'UTC';
    const pollMs = parseDuration(config.job_poll_interval ?? '1s', `${key}.job_poll_interval`);
    const jobTimeoutMs = parseDuration(config.job_timeout ?? '2m', `${key}.job_timeout`);
    const userFilter = config.filter;

    /** One XML API call: a POST form to /api/; resolves with the answer of status="success". */
    async function call(form: Record<string, string>, signal: AbortSignal): Promise<Answer> {
      const req: RemoteRequest = { method: 'POST', path: PATH, form, as: 'text', signal };
      const res = await client.send(req);
      const what = form['action'] ? `${form['action']} job ${form['job-id'] ?? ''}`.trim() : `log query (${form['log-type']})`;
      if (res.status < 200 || res.status >= 300) throw client.errorOf(res, req);
      const root = parseXml(typeof res.body === 'string' ? res.body : '');
      if (!root || root.name !== 'response') throw new RemoteError(`POST ${PATH} (${what}) answered ${res.status} with something other than a PAN-OS <response>`, 'malformed', res.status);
      if (root.attrs['status'] !== 'success') {
        const said = descendants(root, 'msg').map(allText).filter(Boolean).join('; ') || allText(root);
        const code = root.attrs['code'];
        if (code === '403' || code === '401' || /invalid credential/i.test(said)) {
          throw new RemoteError(`POST ${PATH} (${what}): the API key was refused (code ${code ?? '?'}): ${said.slice(0, 200)}`, 'auth', res.status);
        }
        throw new RemoteError(`POST ${PATH} (${what}) answered status="error"${code ? ` code ${code}` : ''}: ${said.slice(0, 300)}`, 'client', res.status);
      }
      return { root, result: child(root, 'result') };
    }

    /** Runs one log query job to its end; the entries, oldest first. */
    async function runJob(logType: LogType, query: string, skip: number, ctx: PullContext): Promise<Record<string, string>[]> {
      const form: Record<string, string> = { type: 'log', 'log-type': logType, nlogs: String(ctx.pageSize), dir: 'forward', query };
      if (skip > 0) form['skip'] = String(skip);
      const enq = await call(form, ctx.signal);
      const job = child(enq.result, 'job')?.text.trim() ?? '';
      if (!/^[0-9]{1,20}$/.test(job)) throw new RemoteError(`POST ${PATH} (log query (${logType})) answered without a job id`, 'malformed');
      let finished = false;
      try {
        const deadline = Date.now() + jobTimeoutMs;
        for (;;) {
          const got = await call({ type: 'log', action: 'get', 'job-id': job }, ctx.signal);
          const status = child(child(got.result, 'job'), 'status')?.text.trim();
          if (status === 'FIN') {
            const logs = child(child(got.result, 'log'), 'logs');
            if (!logs) throw new RemoteError(`POST ${PATH} (get job ${job}): a finished job without <log><logs>`, 'malformed');
            finished = true;
            return logs.children.filter((c) => c.name === 'entry').map(entryObject);
          }
          if (status !== 'ACT' && status !== 'PEND') throw new RemoteError(`POST ${PATH} (get job ${job}): job status "${status ?? 'missing'}"`, 'malformed');
          if (Date.now() >= deadline) throw new RemoteError(`log query job ${job} (${logType}) did not finish within ${jobTimeoutMs} ms`, 'server');
          await sleep(pollMs, ctx.signal);
        }
      } finally {
        // Free the job on the device, also when it failed; a stopping receiver does not wait for it.
        if (!ctx.signal.aborted) {
          await call({ type: 'log', action: 'finish', 'job-id': job }, ctx.signal).catch((e: unknown) =>
            build.log.debug({ job, log_type: logType, err: (e as Error).message, finished }, 'panos: finishing the log job failed'),
          );
        }
      }
    }

    const withFilter = (position: string) => (userFilter ? `(${position}) and (${userFilter})` : `(${position})`);
    const idOf = (e: Record<string, string>) => `${e['serial'] ?? ''}:${e['seqno'] ?? e['logid'] ?? ''}`;
    const recordOf = (logType: LogType, e: Record<string, string>): IntakeRecord => {
      const seq = e['seqno'];
      return { raw: JSON.stringify(e), ...(seq && SEQNO.test(seq) ? { key: `${e['serial'] ?? ''}:${logType}:${seq}` } : {}) };
    };

    /** One page of one log type: its records, its new position, whether a full page came. */
    async function pageOf(logType: LogType, pos: PanosPosition | undefined, ctx: PullContext): Promise<{ records: IntakeRecord[]; pos: PanosPosition | undefined; full: boolean }> {
      const startWall = deviceWallMs(ctx.startAt, zone);
      if (mode === 'seqno') {
        const next = pos && 'seqno' in pos ? BigInt(pos.seqno) : null;
        const query = withFilter(next === null ? `receive_time geq '${deviceTimeOf(startWall)}'` : `seqno geq ${next}`);
        const entries = await runJob(logType, query, 0, ctx);
        const serials = new Set(entries.map((e) => e['serial'] ?? ''));
        if (serials.size > 1) {
          throw new RemoteError(`log query (${logType}) answered logs of ${serials.size} firewalls (${[...serials].slice(0, 3).join(', ')}): this is Panorama; set cursor_field: receive_time`, 'client');
        }
        let max = next === null ? null : next - 1n;
        const fresh: IntakeRecord[] = [];
        for (const e of entries) {
          const s = e['seqno'];
          if (!s || !SEQNO.test(s)) throw new RemoteError(`log query (${logType}) answered an entry without a seqno`, 'malformed');
          const n = BigInt(s);
          if (next !== null && n < next) continue; // not asked for: taken before
          fresh.push(recordOf(logType, e));
          if (max === null || n > max) max = n;
        }
        return { records: fresh, pos: max === null ? pos : { seqno: String(max + 1n) }, full: entries.length >= ctx.pageSize };
      }
      const wm = pos && 'wm' in pos ? pos.wm : emptyWatermark();
      const from = queryFrom(wm, 0, startWall);
      const atNewest = wm.newest === null ? 0 : wm.seen.filter(([, ms]) => ms === Date.parse(wm.newest!)).length;
      const entries = await runJob(logType, withFilter(`receive_time geq '${deviceTimeOf(from)}'`), atNewest, ctx);
      const items = entries.map((e) => {
        const t = isoOfDevice(e['receive_time']);
        if (t === null) throw new RemoteError(`log query (${logType}) answered an entry whose receive_time is not YYYY/MM/DD HH:MM:SS`, 'malformed');
        return { id: idOf(e), time: t };
      });
      const { fresh, next } = advanceWatermark(wm, items, 0);
      const full = entries.length >= ctx.pageSize;
      if (full && fresh.length === 0) {
        // A full page of logs already taken: asking again at once would get the same page (the device did not skip).
        build.log.warn({ log_type: logType, from: deviceTimeOf(from), skip: atNewest }, 'panos: a full page held only logs already taken; waiting for the next interval');
      }
      return { records: fresh.map((i) => recordOf(logType, entries[i]!)), pos: { wm: next }, full: full && fresh.length > 0 };
    }

    return {
      async next(cursor, ctx) {
        const out: PanosCursor = { v: 1, types: { ...(cursor?.types ?? {}) } };
        const records: IntakeRecord[] = [];
        let more = false;
        for (const t of types) {
          const page = await pageOf(t, out.types[t], ctx);
          // An empty first page leaves no position: the next one asks from the start time again.
          if (page.pos) out.types[t] = page.pos;
          records.push(...page.records);
          more ||= page.full;
        }
        return { records, cursor: out, more, lagMs: more ? null : 0 };
      },
      cursorOf(stored) {
        const c = stored as Partial<PanosCursor> | null;
        if (!c || c.v !== 1 || typeof c.types !== 'object' || c.types === null) throw new Error('stored cursor is not a PAN-OS cursor { v: 1, types }');
        const types: PanosCursor['types'] = {};
        for (const [t, p] of Object.entries(c.types)) {
          if (!(PANOS_LOG_TYPES as readonly string[]).includes(t)) throw new Error(`stored cursor names an unknown log type "${t}"`);
          const pos = p as Partial<{ seqno: unknown; wm: unknown }>;
          if (typeof pos?.seqno === 'string' && SEQNO.test(pos.seqno)) types[t as LogType] = { seqno: pos.seqno };
          else if (pos?.wm !== undefined) types[t as LogType] = { wm: watermarkOf(pos.wm) };
          else throw new Error(`stored cursor of log type ${t} is neither { seqno } nor { wm }`);
          // A position of the other cursor_field cannot be carried over: that type starts again from `start`.
          if (('seqno' in types[t as LogType]!) !== (mode === 'seqno')) {
            build.log.warn({ log_type: t, cursor_field: mode }, 'panos: the stored position was written with the other cursor_field; this log type starts again from `start`');
            delete types[t as LogType];
          }
        }
        return { v: 1, types };
      },
      describe: (c) =>
        Object.entries(c.types)
          .map(([t, p]) => ('seqno' in p ? `${t} seqno ${p.seqno}` : `${t} ${p.wm.newest ?? 'start'}`))
          .join(', ') || 'start',
      close: async () => undefined,
    };
  },
});
export default panos;
