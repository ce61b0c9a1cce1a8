/**
 * What the firewall action kinds (panos_dag, fortigate_address) share besides HTTP (fw-http.ts): the config keys
 * of a device on the network, their `check`, opening the device (`openFirewall`: credential, client, the address
 * rules), and how long a block lasts.
 */
import { Type } from 'typebox';
import { Duration } from '../../../config/schema.js';
import { parseDuration } from '../../../config/duration.js';
import type { ComponentProblem } from '../../../component/component.js';
import type { ActionRecord } from '../../../model/action.js';
import type { ActionContext } from '../../action.js';
import { readTlsCaFile, secretValue } from '../../target-config.js';
import { createFwHttp, fwUrlProblem, type FwHttp } from './fw-http.js';
import { chooseAddress, neverBlockProblems, neverBlockTable, paramDuration } from './target-address.js';

/** Spread into a firewall kind's schema. */
export const fwSettingsSchema = {
  url: Type.String({ description: 'Base URL of the management interface, e.g. https://fw1.corp.example' }),
  allow_private: Type.Optional(
    Type.Boolean({ description: 'Allow a url on a private address (the usual case for a firewall management interface). Default false' }),
  ),
  block_private: Type.Optional(
    Type.Boolean({ description: 'Allow blocking private and other non-public addresses (never loopback). Default false' }),
  ),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of the CA that signed the management certificate (relative to the config file)' })),
  call_timeout: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  max_timeout: Type.Optional(Duration),
  never_block: Type.Optional(Type.Array(Type.String(), { description: 'CIDRs never blocked, whatever the rule says (DNS servers, gateways)' })),
};

export interface FwSettings {
  name: string;
  url: string;
  allow_private?: boolean;
  block_private?: boolean;
  tls_ca_file?: string;
  call_timeout?: string | number;
  timeout?: string | number;
  max_timeout?: string | number;
  never_block?: string[];
}

const DEFAULT_CALL_TIMEOUT_MS = 15_000;

export function fwSettingsProblems(cfg: FwSettings): ComponentProblem[] {
  const problems = neverBlockProblems(cfg.never_block);
  const url = fwUrlProblem(cfg.url, cfg.allow_private);
  if (url) problems.push({ key: 'url', message: url });
  for (const key of ['timeout', 'max_timeout', 'call_timeout'] as const) {
    const v = cfg[key];
    if (v !== undefined && parseDuration(v, key) < 1000) problems.push({ key, message: 'must be at least 1s' });
  }
  return problems;
}

export const callTimeoutMs = (cfg: FwSettings): number =>
  cfg.call_timeout !== undefined ? parseDuration(cfg.call_timeout, `actions.targets.${cfg.name}.call_timeout`) : DEFAULT_CALL_TIMEOUT_MS;

/**
 * The block's lifetime in seconds: the rule's `params.timeout`, else the target's `timeout`; never longer than
 * the rule's `for:` (so the block lifts on time even if Fido is down then) nor `max_timeout`.
 */
export function blockSeconds(kind: string, cfg: FwSettings, action: ActionRecord, defaults: { timeoutMs: number; maxMs: number }): number {
  const params = action.params ?? {};
  const key = `actions.targets.${cfg.name}`;
  let ms = params.timeout !== undefined ? paramDuration(kind, params.timeout, 'params.timeout') : cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : defaults.timeoutMs;
  const forMs = (action as { undo_after_ms?: unknown }).undo_after_ms;
  if (typeof forMs === 'number' && forMs > 0) ms = Math.min(ms, forMs);
  const max = cfg.max_timeout !== undefined ? Math.min(parseDuration(cfg.max_timeout, `${key}.max_timeout`), defaults.maxMs) : defaults.maxMs;
  return Math.max(1, Math.ceil(Math.min(ms, max) / 1000));
}

export interface Firewall {
  /** Config path of the target ("actions.targets.edge"). */
  key: string;
  http: FwHttp;
  /** The address an action blocks (lib/target-address.ts), with the entry's block_private and never_block. */
  address(ctx: ActionContext): ReturnType<typeof chooseAddress>;
  /** The same for reconcile: null when execute would refuse it (it will again, with its reason). */
  addressOrNull(ctx: ActionContext): ReturnType<typeof chooseAddress> | null;
}

/**
 * A firewall target's parts: its entry checked again (create runs without `check` in some paths), the credential
 * setting `credential` resolved and sent in the headers `headers` builds, the HTTP client.
 */
export function openFirewall<C extends FwSettings>(
  kind: string,
  cfg: C,
  deps: { configDir: string },
  credential: keyof C & string,
  headers: (secret: string) => Record<string, string>,
): Firewall {
  const key = `actions.targets.${cfg.name}`;
  const problem = fwSettingsProblems(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const secret = secretValue(String(cfg[credential]), `${key}.${credential}`);
  const blockPrivate = cfg.block_private ?? false;
  const never = neverBlockTable(cfg.never_block);
  const http = createFwHttp({
    kind,
    key,
    url: cfg.url,
    headers: headers(secret),
    allowPrivate: cfg.allow_private ?? false,
    ca: readTlsCaFile(cfg, deps.configDir),
    timeoutMs: callTimeoutMs(cfg),
  });
  const address = (ctx: ActionContext) => chooseAddress(kind, ctx.action.params ?? {}, ctx.incident, blockPrivate, never, 'block_private');
  return {
    key,
    http,
    address,
    addressOrNull(ctx) {
      try {
        return address(ctx);
      } catch {
        return null;
      }
    },
  };
}
