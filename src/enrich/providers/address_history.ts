/**
 * Address history: which machine and person held an address at the time of the alert, not the ones that hold
 * it now. Answers `ip` subjects at their time (`LookupSubject.at`, the newest alert of the incident carrying
 * the address) from the store's address_bindings (address-bindings.ts), which ingest fills from context
 * events (VPN sessions, DHCP leases, sign-ons) and this provider fills from lease and status files:
 *
 *   - name: addresses
 *     kind: address_history
 *     files:
 *       - { path: /var/lib/dhcp/dhcpd.leases, format: isc_dhcpd }
 *       - { path: /var/lib/kea/kea-leases4.csv, format: kea_csv }
 *       - { path: /run/openvpn/server.status, format: openvpn_status }   # status-version 2 or 3
 *     poll: 10s               # how often the files are checked for changes
 *     open_for: { auth: 8h }  # how long a binding with no known end is taken to hold
 *
 * Files are watched by polling their identity (size, mtime, inode) every `poll`: robust across the
 * daemons' rewrite-and-rename and across network file systems, where change events are unreliable. A
 * changed file is parsed and its holdings upserted; an OpenVPN client gone from the status file has its
 * session ended at the file's modification time. The answer names the holder (host, user, MAC), how Fido
 * knows (kind and source) and the span, so the incident shows where the name came from.
 */
import { stat, readFile } from 'node:fs/promises';
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { resolveDataPath } from '../localfile.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { parseHoldings, type LeaseFormat } from '../lease-files.js';
import { DEFAULT_OPEN_FOR, bindingsAt, endMissing, recordBindings, type Binding, type BindingKind, type BindingRow, type OpenFor } from '../address-bindings.js';
import { canonicalIp } from '../values.js';
import { iso, isoOrNull } from '../../util/time.js';
import { errorContext, log } from '../../util/log.js';

const FileSchema = Type.Object(
  {
    path: Type.String({ minLength: 1 }),
    format: Type.Union([Type.Literal('isc_dhcpd'), Type.Literal('kea_csv'), Type.Literal('openvpn_status')]),
    /** OpenVPN status-version 1 writes local times: the server's zone (IANA name or offset). */
    time_zone: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('address_history'),
    ...providerSettingsSchema,
    files: Type.Optional(Type.Array(FileSchema)),
    poll: Type.Optional(Duration),
    open_for: Type.Optional(
      Type.Object(
        { vpn: Type.Optional(Duration), dhcp: Type.Optional(Duration), auth: Type.Optional(Duration) },
        { additionalProperties: false, description: 'How long a binding with no known end is taken to hold, by kind' },
      ),
    ),
  },
  { additionalProperties: false },
);

/** How many bindings an answer lists (newest first). */
const LISTED = 5;
const DEFAULT_POLL_MS = 10_000;

interface WatchedFile {
  path: string;
  format: LeaseFormat;
  timeZone?: string;
  /** Identity at the last read: size, mtime, inode. */
  seen: string;
}

/** Holder of an address at a moment, from the bindings that cover it (newest first). */
export function holderOf(all: readonly Binding[], at: number): ProviderAnswer {
  // A session known only by its end event names nobody.
  const bindings = all.filter((b) => b.host || b.user);
  if (bindings.length === 0) return { found: false, data: { at: iso(at) } };
  const withHost = bindings.find((b) => b.host);
  const withUser = bindings.find((b) => b.user);
  return {
    found: true,
    data: {
      at: iso(at),
      host: withHost?.host ?? null,
      user: withUser?.user ?? null,
      mac: bindings.find((b) => b.mac)?.mac ?? null,
      bindings: bindings.slice(0, LISTED).map((b) => ({
        kind: b.kind,
        source: b.source,
        start: iso(b.start),
        end: isoOrNull(b.end),
        host: b.host,
        user: b.user,
        mac: b.mac,
      })),
    },
  };
}

export default defineProvider({
  kind: 'address_history',
  description: 'Who held an address at the time of the alert: VPN sessions, DHCP leases, sign-ons (context events, lease and status files)',
  schema: Schema,
  local: true,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const key = `enrichment.providers.${cfg.name}`;
    const openFor: OpenFor = { ...DEFAULT_OPEN_FOR };
    for (const [kind, v] of Object.entries(cfg.open_for ?? {})) {
      if (v !== undefined) openFor[kind as BindingKind] = parseDuration(v, `${key}.open_for.${kind}`);
    }
    const pollMs = cfg.poll === undefined ? DEFAULT_POLL_MS : parseDuration(cfg.poll, `${key}.poll`);
    const files: WatchedFile[] = (cfg.files ?? []).map((f) => ({
      path: resolveDataPath(f.path, deps.configDir),
      format: f.format,
      timeZone: f.time_zone,
      seen: '',
    }));

    /** Reads a file that changed since the last look and records its holdings. */
    async function sync(f: WatchedFile): Promise<void> {
      let st;
      try {
        st = await stat(f.path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (f.seen !== `missing:${code}`) log.warn({ provider: cfg.name, file: f.path, code }, 'address history: file not readable; kept what it said before');
        f.seen = `missing:${code}`;
        return;
      }
      const identity = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (identity === f.seen) return;
      const parsed = parseHoldings(f.format, await readFile(f.path, 'utf8'), { timeZone: f.timeZone });
      const source = `${f.format}:${f.path}`;
      const kind: BindingKind = f.format === 'openvpn_status' ? 'vpn' : 'dhcp';
      const rows: BindingRow[] = parsed.holdings.map((h) => ({
        key: `${source}|${h.id}`,
        ip: h.ip,
        start_at: h.start,
        end_at: h.end,
        host: h.host?.toLowerCase() ?? null,
        user_name: h.user?.toLowerCase() ?? null,
        mac: h.mac,
        kind,
        source,
      }));
      await recordBindings(deps.store.db, rows, deps.now());
      // A status file lists who is connected now: whoever left it disconnected by the time it was written.
      if (f.format === 'openvpn_status') await endMissing(deps.store.db, source, new Set(rows.map((r) => r.key)), Math.round(st.mtimeMs));
      if (parsed.skipped > 0) log.warn({ provider: cfg.name, file: f.path, skipped: parsed.skipped }, 'address history: entries not understood were skipped');
      f.seen = identity;
    }

    let syncing: Promise<void> = Promise.resolve();
    const syncAll = () =>
      (syncing = syncing.then(async () => {
        for (const f of files) {
          try {
            await sync(f);
          } catch (e) {
            log.warn({ provider: cfg.name, file: f.path, err: errorContext(e) }, 'address history: file not read; tried again at the next poll');
          }
        }
      }));
    await syncAll();
    const timer = files.length > 0 ? setInterval(() => void syncAll(), pollMs) : null;
    timer?.unref();

    return {
      name: cfg.name,
      kind: 'address_history',
      subjects: ['ip'],
      local: true,
      timed: true,
      // Answers change as sessions begin and end: an incident keeps one for a minute before asking again.
      reuseMs: 60_000,
      async lookup(subject: LookupSubject): Promise<ProviderAnswer> {
        const ip = canonicalIp(subject.value);
        const at = subject.at ?? deps.now();
        if (!ip) return { found: false, data: { at: iso(at) } };
        return holderOf(await bindingsAt(deps.store.db, ip, at, openFor), at);
      },
      async close() {
        if (timer) clearInterval(timer);
        await syncing;
      },
    };
  },
});
