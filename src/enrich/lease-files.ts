/**
 * Files that say who holds an address: ISC dhcpd's `dhcpd.leases`, Kea's memfile lease CSVs and OpenVPN's
 * status file. Each parser is pure (text in, holdings out) and tolerant: a block or row it cannot read is
 * counted and skipped, never fatal, because these files are rewritten in place by their daemons and may be
 * read half-written.
 */
import { canonicalIp, normalizeMac } from './values.js';
import { parseCsv, type CsvRecord } from './csv.js';
import { zonedToUtc } from '../detectors/lib/time.js';

/** One address held by one client for a time. */
export interface Holding {
  ip: string;
  /** ms since the epoch. */
  start: number;
  /** null: held with no end known (an active lease "ends never", a VPN session still connected). */
  end: number | null;
  host: string | null;
  user: string | null;
  mac: string | null;
  /** What the file calls the holding, so a re-read finds it again (lease start, session id). */
  id: string;
}

export interface ParsedHoldings {
  holdings: Holding[];
  /** Blocks or rows that could not be read. */
  skipped: number;
}

export const LEASE_FORMATS = ['isc_dhcpd', 'kea_csv', 'openvpn_status'] as const;
export type LeaseFormat = (typeof LEASE_FORMATS)[number];

export function parseHoldings(format: LeaseFormat, text: string, opts: { timeZone?: string } = {}): ParsedHoldings {
  switch (format) {
    case 'isc_dhcpd':
      return parseIscDhcpdLeases(text);
    case 'kea_csv':
      return parseKeaLeases(text);
    case 'openvpn_status':
      return parseOpenVpnStatus(text, opts.timeZone ?? 'UTC');
  }
}

// ─── ISC dhcpd ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * dhcpd.leases (dhcpd.leases(5)): `lease ADDRESS { starts W YYYY/MM/DD HH:MM:SS; ends …; hardware ethernet
 * MAC; client-hostname "NAME"; binding state active; }`, times in UTC, or `epoch N;` when dhcpd runs with
 * `db-time-format local`; `ends never`. The file is a log: a later block for the same address and start
 * replaces an earlier one. A lease whose binding state is `free` or `backup` before it ever started says
 * nothing about a client and is skipped; released and expired leases are kept, they were held until `ends`.
 */
export function parseIscDhcpdLeases(text: string): ParsedHoldings {
  const byId = new Map<string, Holding>();
  let skipped = 0;
  for (const { address, body } of leaseBlocks(text)) {
    const ip = canonicalIp(address);
    const start = dhcpdTime(field(body, 'starts'));
    const endText = field(body, 'ends');
    const end = endText === 'never' ? null : dhcpdTime(endText);
    const hardware = field(body, 'hardware')?.split(/\s+/);
    const mac = hardware?.[0] === 'ethernet' ? (normalizeMac(hardware[1] ?? '') ?? null) : null;
    const quoted = field(body, 'client-hostname');
    const host = quoted && quoted.length >= 2 && quoted.startsWith('"') && quoted.endsWith('"') ? quoted.slice(1, -1) : null;
    const state = field(body, 'binding')?.split(/\s+/)[1];
    if (!ip || start === undefined || (end === undefined && endText !== 'never')) {
      skipped++;
      continue;
    }
    if (!mac && !host) continue; // a pool entry, not a client
    if (state === 'backup') continue;
    const id = `${ip}@${start}`;
    byId.set(id, { ip, start, end: end ?? null, host: host || null, user: null, mac, id });
  }
  return { holdings: [...byId.values()], skipped };
}

/** `W YYYY/MM/DD HH:MM:SS` (UTC) or `epoch N` → ms; undefined when unreadable. */
function dhcpdTime(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const epoch = /^epoch\s+(\d+)/.exec(v);
  if (epoch) return Number(epoch[1]) * 1000;
  const m = /^\d\s+(\d{4})\/(\d\d)\/(\d\d)\s+(\d\d):(\d\d):(\d\d)/.exec(v);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** A statement's value: `name value;` among the block's statements (split at semicolons). */
function field(body: string, name: string): string | undefined {
  for (const statement of body.split(';')) {
    const t = statement.trim();
    if (t.startsWith(`${name} `) || t.startsWith(`${name}\t`)) return t.slice(name.length).trim();
  }
  return undefined;
}

/**
 * The `lease ADDRESS { … }` blocks of a dhcpd.leases text, by scanning (a regular expression over the whole
 * file is quadratic on a file that a crash left with an unclosed block). An unclosed last block is dropped.
 */
function* leaseBlocks(text: string): Generator<{ address: string; body: string }> {
  let from = 0;
  for (;;) {
    const at = text.indexOf('lease', from);
    if (at < 0) return;
    from = at + 5;
    if (at > 0 && !/\s/.test(text[at - 1]!)) continue; // part of a word ("authoring-byte-order"…)
    const open = text.indexOf('{', from);
    if (open < 0) return;
    const address = text.slice(from, open).trim();
    if (!/^[0-9a-fA-F:.]+$/.test(address)) continue;
    const close = text.indexOf('}', open);
    if (close < 0) return;
    yield { address, body: text.slice(open + 1, close) };
    from = close + 1;
  }
}

// ─── Kea ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Kea's memfile lease files (kea-leases4.csv / kea-leases6.csv): a header row naming the columns
 * (address, hwaddr, valid_lifetime, expire, hostname, state, …). `expire` is epoch seconds and the lease
 * began `valid_lifetime` seconds before it. state 1 (declined) is skipped: nobody held the address. The file
 * is a log too: the last row for an address and start wins.
 */
export function parseKeaLeases(text: string): ParsedHoldings {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch {
    return { holdings: [], skipped: 1 }; // half-written (an open quote): read again on the next change
  }
  const header = records[0]?.fields.map((h) => h.trim().toLowerCase()) ?? [];
  const [iAddr, iHw, iLife, iExp, iHost, iState] = ['address', 'hwaddr', 'valid_lifetime', 'expire', 'hostname', 'state'].map((n) => header.indexOf(n)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const byId = new Map<string, Holding>();
  let skipped = 0;
  if (iAddr < 0 || iLife < 0 || iExp < 0) return { holdings: [], skipped: Math.max(0, records.length - 1) };
  for (const { fields: row } of records.slice(1)) {
    const ip = canonicalIp(row[iAddr] ?? '');
    const life = Number(row[iLife]);
    const expire = Number(row[iExp]);
    if (!ip || !Number.isFinite(life) || !Number.isFinite(expire) || row[iExp] === '') {
      skipped++;
      continue;
    }
    if (iState >= 0 && row[iState] === '1') continue;
    const start = (expire - life) * 1000;
    const id = `${ip}@${start}`;
    const host = iHost >= 0 ? (row[iHost] ?? '').trim().replace(/\.$/, '') : '';
    const mac = iHw >= 0 ? (normalizeMac(row[iHw] ?? '') ?? null) : null;
    byId.set(id, { ip, start, end: expire * 1000, host: host || null, user: null, mac, id });
  }
  return { holdings: [...byId.values()], skipped };
}

// ─── OpenVPN ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * OpenVPN's status file (`--status FILE`, `--status-version 1|2|3`): the clients connected now. Version 2
 * and 3 (comma- and tab-separated) give per client the common name, real and virtual addresses, the
 * connection time as time_t and the username; version 1 splits that over a CLIENT LIST and a ROUTING TABLE
 * and writes times in the server's local time, hence `timeZone` (IANA name or offset; prefer version 2 or 3). A client is
 * the user its username names (its common name when the username is UNDEF); the holding is open-ended
 * (still connected); the caller ends it when the client leaves the file.
 */
export function parseOpenVpnStatus(text: string, timeZone = 'UTC'): ParsedHoldings {
  const lines = text.split(/\r?\n/);
  const isV23 = lines.some((l) => /^(TITLE|HEADER|CLIENT_LIST)[,\t]/.test(l));
  return isV23 ? openVpnV23(lines) : openVpnV1(lines, timeZone);
}

function openVpnV23(lines: readonly string[]): ParsedHoldings {
  const out: Holding[] = [];
  let skipped = 0;
  let header: string[] = [];
  for (const line of lines) {
    const sep = line.includes('\t') ? '\t' : ',';
    const cells = line.split(sep);
    if (cells[0] === 'HEADER' && cells[1] === 'CLIENT_LIST') header = cells.slice(2).map((c) => c.trim().toLowerCase());
    if (cells[0] !== 'CLIENT_LIST') continue;
    const v = (name: string) => {
      const i = header.indexOf(name);
      return i >= 0 ? (cells[i + 1] ?? '').trim() : '';
    };
    const cn = header.length ? v('common name') : (cells[1] ?? '');
    const real = header.length ? v('real address') : (cells[2] ?? '');
    const virtual4 = header.length ? v('virtual address') : (cells[3] ?? '');
    const virtual6 = header.length ? v('virtual ipv6 address') : '';
    const since = Number(header.length ? v('connected since (time_t)') : cells[8]);
    const username = header.length ? v('username') : (cells[9] ?? '');
    const user = username && username !== 'UNDEF' ? username : cn;
    if (!Number.isFinite(since) || since <= 0 || (!virtual4 && !virtual6)) {
      skipped++;
      continue;
    }
    for (const addr of [virtual4, virtual6]) {
      const ip = addr ? canonicalIp(addr) : null;
      if (ip) out.push({ ip, start: since * 1000, end: null, host: null, user: user || null, mac: null, id: `${cn}|${real}|${since}|${ip}` });
    }
  }
  return { holdings: out, skipped };
}

function openVpnV1(lines: readonly string[], timeZone: string): ParsedHoldings {
  // CLIENT LIST: Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since
  // ROUTING TABLE: Virtual Address,Common Name,Real Address,Last Ref
  const since = new Map<string, number>(); // cn|real → ms
  const out: Holding[] = [];
  let skipped = 0;
  let section = '';
  for (const line of lines) {
    if (line === 'OpenVPN CLIENT LIST' || line === 'ROUTING TABLE' || line === 'GLOBAL STATS') {
      section = line;
      continue;
    }
    const cells = line.split(',');
    if (cells[0] === 'Updated' || cells[0] === 'Common Name' || cells[0] === 'Virtual Address') continue;
    if (section === 'OpenVPN CLIENT LIST' && cells.length >= 5) {
      const t = localTime(cells[4]!, timeZone);
      if (t === undefined) skipped++;
      else since.set(`${cells[0]}|${cells[1]}`, t);
    } else if (section === 'ROUTING TABLE' && cells.length >= 3) {
      const ip = canonicalIp(cells[0]!.replace(/C$/, '')); // a trailing C marks a learnt route ("10.8.0.6C")
      const start = since.get(`${cells[1]}|${cells[2]}`);
      if (!ip || start === undefined) {
        skipped++;
        continue;
      }
      out.push({ ip, start, end: null, host: null, user: cells[1] || null, mac: null, id: `${cells[1]}|${cells[2]}|${start / 1000}|${ip}` });
    }
  }
  return { holdings: out, skipped };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** "2026-12-07 08:00:00" or ctime's "Mon Dec  7 08:00:00 2026", the wall time of `timeZone`. */
function localTime(v: string, timeZone: string): number | undefined {
  const at = (year: number, month: number, day: number, hour: number, minute: number, second: number) =>
    zonedToUtc({ year, month, day, hour, minute, second, ms: 0 }, timeZone);
  let m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)$/.exec(v.trim());
  if (m) return at(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  m = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d\d):(\d\d):(\d\d)\s+(\d{4})$/.exec(v.trim());
  if (m) {
    const month = MONTHS.indexOf(m[1]!.toLowerCase());
    if (month < 0) return undefined;
    return at(+m[6]!, month + 1, +m[2]!, +m[3]!, +m[4]!, +m[5]!);
  }
  return undefined;
}
