/**
 * What the EDR containment kinds share (kinds/crowdstrike_contain.ts, sentinelone_isolate.ts,
 * defender_isolate.ts): the config keys, which host an action is about, the protected-host refusal, the
 * RemoteError → ActionError mapping (lib/remote-action.ts), an OAuth2 client-credentials token cache, and `edrTarget`, which turns a
 * vendor driver (find a device, read its containment state, contain, release) into an idempotent, reversible
 * ActionTarget with `reconcile`. A vendor file only speaks its API.
 */
import { isIP } from 'node:net';
import { Type } from 'typebox';
import { Duration } from '../../../config/schema.js';
import { parseDuration } from '../../../config/duration.js';
import { createRemoteClient, RemoteError, type RemoteClient } from '../../../enrich/remote.js';
import { outboundUrlProblem } from '../../../util/outbound.js';
import type { ComponentProblem } from '../../../component/component.js';
import { str } from '../../../enrich/json-read.js';
import { ActionError, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type Reconciled, type UndoContext } from '../../action.js';
import { readTlsCaFile, secretValue } from '../../target-config.js';
import { remoteActionError } from './remote-action.js';
import { tokenSource, withToken } from '../../../enrich/oauth.js';

/** Config keys of every EDR target; spread into its schema. */
export const edrSettingsSchema = {
  url: Type.Optional(Type.String({ description: "Base URL of the vendor's API (default: its public endpoint where there is one)" })),
  allow_private: Type.Optional(Type.Boolean({ description: 'Allow a url on a private or loopback address (an on-premises console, a test double)' })),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA that signed the API certificate' })),
  timeout: Type.Optional(Duration),
  protected_hosts: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), { description: 'Host names never isolated (domain controllers, the SIEM itself); case-insensitive, short or full names' }),
  ),
};

export interface EdrEntry {
  name: string;
  url?: string;
  allow_private?: boolean;
  tls_ca_file?: string;
  timeout?: string | number;
  protected_hosts?: string[];
}

export const DEFAULT_TIMEOUT_MS = 15_000;

export const targetKey = (cfg: { name: string }): string => `actions.targets.${cfg.name}`;

/** `check` of the urls an entry will call (the API, a token endpoint). */
export function urlProblems(cfg: EdrEntry, urls: Record<string, string | undefined>): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  for (const [key, url] of Object.entries(urls)) {
    if (url === undefined || /\$\{(env|file):/.test(url)) continue;
    const problem = outboundUrlProblem(url, { allowPrivate: cfg.allow_private ?? false });
    if (problem) out.push({ key, message: problem });
  }
  return out;
}

/** A client for one base URL of the entry, behind the outbound guard; `secrets` are cut out of messages. */
export function edrClient(cfg: EdrEntry, deps: ActionDeps, baseUrl: string, secrets: string[], headers: Record<string, string> = {}): RemoteClient {
  const key = targetKey(cfg);
  return createRemoteClient({
    key,
    baseUrl,
    headers,
    secrets,
    allowPrivate: cfg.allow_private ?? false,
    ca: readTlsCaFile(cfg, deps.configDir),
    timeoutMs: cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS,
    userAgent: 'fido-actions/1',
  });
}

// ───────────────────────────── which host ─────────────────────────────

/** What to isolate: a host name, or an address for the vendors that can look a device up by IP. */
export interface HostRef {
  value: string;
  ip: boolean;
}

/** `params.host` when the rule gives one, else the incident's host; refused (permanent) when there is none. */
export function hostOf(ctx: ActionContext): HostRef {
  const p = ctx.action.params['host'];
  const raw = typeof p === 'string' && p.trim() !== '' ? p.trim() : (ctx.incident.host ?? '').trim();
  if (raw === '') throw new ActionError('no host to isolate: neither params.host nor the incident names one', false);
  return { value: raw, ip: isIP(raw) !== 0 };
}

const shortName = (h: string) => h.toLowerCase().split('.')[0] ?? '';

/** Whether two host names are the same machine: equal, or one is the short form of the other. */
export function sameHost(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  return (!x.includes('.') || !y.includes('.')) && shortName(x) === shortName(y);
}

function refuseProtected(cfg: EdrEntry, names: string[]): void {
  for (const p of cfg.protected_hosts ?? []) {
    const hit = names.find((n) => sameHost(n, p));
    if (hit !== undefined) throw new ActionError(`host ${hit} is protected (${targetKey(cfg)}.protected_hosts): not isolated`, false);
  }
}

// ───────────────────────────── errors ─────────────────────────────

/** A failure as the executor's retry rules: lib/remote-action.ts. */
export const actionErrorOf = (e: unknown, mutating: boolean): ActionError => remoteActionError(e, { mutating });

/** A 2xx answer not shaped as documented. */
export function malformed(what: string): RemoteError {
  return new RemoteError(`answer not as documented: ${what}`, 'malformed', 200);
}

// ───────────────────────────── OAuth2 client credentials ─────────────────────────────

/** One JSON call of a vendor API (the token is added by oauthApi). */
export type ApiCall = (signal: AbortSignal, req: Omit<Parameters<RemoteClient['json']>[0], 'signal' | 'headers'>) => Promise<unknown>;

/**
 * The API of an entry that authenticates with OAuth2 client credentials (`client_id`, `client_secret`, both
 * secret references): tokens from `tokenPath` on `tokenUrl` (default: the API's own host) with `form` added to
 * the credentials, each call with a bearer token and one more try on a 401.
 */
export function oauthApi(
  cfg: EdrEntry & { client_id: string; client_secret: string },
  deps: ActionDeps,
  o: { apiUrl: string; tokenUrl?: string | undefined; tokenPath: string; form?: Record<string, string> },
): { api: ApiCall; close(): Promise<void> } {
  const key = targetKey(cfg);
  const clientId = secretValue(cfg.client_id, `${key}.client_id`);
  const clientSecret = secretValue(cfg.client_secret, `${key}.client_secret`);
  const client = edrClient(cfg, deps, o.apiUrl, [clientSecret]);
  const tokenClient = o.tokenUrl === undefined ? client : edrClient(cfg, deps, o.tokenUrl, [clientSecret]);
  const tokens = tokenSource(tokenClient, o.tokenPath, { ...o.form, client_id: clientId, client_secret: clientSecret });
  return {
    api: (signal, req) => withToken(tokens, signal, (headers) => client.json({ ...req, headers, signal })),
    async close() {
      await Promise.all([client.close(), ...(tokenClient !== client ? [tokenClient.close()] : [])]);
    },
  };
}

// ───────────────────────────── the target ─────────────────────────────

export interface EdrDevice {
  id: string;
  /** The name the EDR knows it by (checked against the protected hosts and the name asked for). */
  name: string;
}

/** Containment as the vendors report it, reduced: a pending request counts as its outcome. */
export type Containment = 'contained' | 'containing' | 'released' | 'releasing';

export interface EdrDriver {
  /** The one device known by this name or address; ActionError (permanent) when none or several. */
  find(host: HostRef, signal: AbortSignal): Promise<EdrDevice>;
  state(device: EdrDevice, signal: AbortSignal): Promise<Containment>;
  /** Asks for containment; what it returns is kept in the action's result. */
  contain(device: EdrDevice, ctx: ActionContext): Promise<Record<string, unknown>>;
  release(device: EdrDevice, ctx: ActionContext): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Refusal when a lookup found no device or several. */
export function pickOne(host: HostRef, found: EdrDevice[]): EdrDevice {
  // A name lookup only counts devices that carry that name: a filter the service read more widely than meant
  // (an odd character in the name) never makes Fido isolate another machine.
  const matching = host.ip ? found : found.filter((d) => sameHost(d.name, host.value));
  if (matching.length === 0) throw new ActionError(`no device named ${host.value} in the EDR`, false);
  if (matching.length > 1) throw new ActionError(`${matching.length} devices match ${host.value} in the EDR (${matching.map((d) => d.id).join(', ')}): ambiguous, not isolated`, false);
  return matching[0]!;
}

const isIsolated = (s: Containment) => s === 'contained' || s === 'containing';
const CONTAINMENTS: readonly unknown[] = ['contained', 'containing', 'released', 'releasing'] satisfies Containment[];

/**
 * The ActionTarget of a driver. execute: find the device, refuse a protected one, checkpoint its containment
 * (ActionContext.checkpoint) and ask for containment unless it is contained or pending already. `already` in
 * the result says whether it was contained before Fido acted: from an earlier attempt's checkpoint when there
 * is one (contained now may be that attempt's doing), else from what was read. undo: the device recorded by
 * execute is released only when Fido contained it (`already: false`); a host contained before (or when Fido
 * could not tell: `already: null`) stays contained, and the undo says so. reconcile: done when the device is in
 * the state the action asked for; the action's `already` comes from the checkpoint (null without one).
 */
export function edrTarget(cfg: EdrEntry, kind: string, driver: EdrDriver): ActionTarget {
  async function device(ctx: ActionContext, known?: Record<string, unknown>): Promise<EdrDevice> {
    const id = str(known?.['device_id']);
    const name = str(known?.['hostname']);
    if (id !== null && name !== null) return { id, name };
    const host = hostOf(ctx);
    refuseProtected(cfg, [host.value]);
    const d = await driver.find(host, ctx.signal);
    refuseProtected(cfg, [d.name]);
    return d;
  }

  async function run<T>(mutating: boolean, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw actionErrorOf(e, mutating);
    }
  }

  /** The containment an earlier attempt of this action checkpointed for device `d`, if any. */
  function priorState(ctx: ActionContext, d: EdrDevice): Containment | null {
    const p = ctx.priorCheckpoint;
    return p && p['device_id'] === d.id && CONTAINMENTS.includes(p['was']) ? (p['was'] as Containment) : null;
  }

  /**
   * Asks for `want` unless the device is there already (`now`); what the vendor said, or null when it was
   * there already or (a vendor that refuses a request already under way or done: Defender's 400 for an
   * isolation already pending, a console racing with Fido) turned out to be once asked.
   */
  async function ask(ctx: ActionContext, d: EdrDevice, want: 'contain' | 'release', now: Containment): Promise<{ said: Record<string, unknown> | null; state: Containment }> {
    if (isIsolated(now) === (want === 'contain')) return { said: null, state: now };
    try {
      const said = await (want === 'contain' ? driver.contain(d, ctx) : driver.release(d, ctx));
      return { said, state: want === 'contain' ? 'containing' : 'releasing' };
    } catch (e) {
      if (e instanceof RemoteError && e.reason === 'client') {
        const after = await run(false, () => driver.state(d, ctx.signal));
        if (isIsolated(after) === (want === 'contain')) return { said: null, state: after };
      }
      throw actionErrorOf(e, true);
    }
  }

  async function contain(ctx: ActionContext): Promise<ActionOutcome> {
    const d = await run(false, () => device(ctx));
    const now = await run(false, () => driver.state(d, ctx.signal));
    const base = { device_id: d.id, hostname: d.name };
    const prior = priorState(ctx, d);
    if (prior === null) await ctx.checkpoint({ ...base, was: now });
    const r = await ask(ctx, d, 'contain', now);
    // Contained before Fido acted: per the checkpoint, else as read; contained by someone between Fido's read
    // and its request (a refusal of the request: `said` null although it was released) counts as before too.
    const already = prior !== null ? isIsolated(prior) : isIsolated(now) || r.said === null;
    return { detail: { ...base, ...(r.said ?? {}), state: r.state, already } };
  }

  async function release(ctx: UndoContext): Promise<ActionOutcome> {
    const o = ctx.originalResult;
    if (o['already'] !== false) {
      const why = o['already'] === true ? 'the host was contained before Fido acted' : 'Fido could not tell whether it contained the host';
      return { detail: { device_id: o['device_id'] ?? null, hostname: o['hostname'] ?? null, released: false, reason: `${why}; left contained` } };
    }
    const d = await run(false, () => device(ctx, o));
    const now = await run(false, () => driver.state(d, ctx.signal));
    const r = await ask(ctx, d, 'release', now);
    return { detail: { device_id: d.id, hostname: d.name, ...(r.said ?? {}), state: r.state, already: r.said === null } };
  }

  return {
    name: cfg.name,
    kind,
    execute: contain,
    undo: release,
    async reconcile(ctx): Promise<Reconciled> {
      const d = await run(false, () => device(ctx));
      const s = await run(false, () => driver.state(d, ctx.signal));
      const wantIsolated = ctx.action.undo_of === null;
      if (isIsolated(s) !== wantIsolated) return { done: false };
      const base = { device_id: d.id, hostname: d.name, state: s };
      if (!wantIsolated) return { done: true, detail: base };
      // The checkpoint of the attempt that asked says whether the host was contained before Fido acted.
      const prior = priorState(ctx, d);
      return { done: true, detail: { ...base, already: prior === null ? null : isIsolated(prior) } };
    },
    close: () => driver.close(),
  };
}
