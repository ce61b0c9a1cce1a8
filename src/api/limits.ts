/**
 * The HTTP server's timeouts and connection limits from the `server.*` keys, with their defaults. Pure (no
 * metrics, no server), so that `fido config validate` can use it; connections.ts applies them.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parseDuration } from '../config/duration.js';
import type { FidoConfig } from '../config/schema.js';

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  /** How often Node looks for requests past headers/request timeout (its default, 30 s, would let them overstay). */
  checkIntervalMs: number;
  maxConnections: number;
  /** 0: no per-address limit. */
  maxConnectionsPerAddress: number;
  shedCapacity: number;
  shedGraceMs: number;
  /** Retry-After (seconds) of a shed request. */
  retryAfterSeconds: number;
}

export const DEFAULT_TIMEOUTS = { headers: '20s', request: '2m', keepAlive: '72s', idle: '60s' } as const;
const DEFAULT_PER_ADDRESS = 256;
/** Share of the open-file limit that HTTP connections may hold (served and shed together). */
const FD_SHARE = 0.75;

/**
 * The process's open-file limit (`ulimit -n`). Node raises its soft limit to the hard one at start, so
 * /proc/self/limits is what this process really has; elsewhere a shell reports the inherited soft limit.
 */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s+/)[3];
    if (soft === 'unlimited') return 1 << 20;
    if (soft && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    /* not Linux */
  }
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim();
    if (out === 'unlimited') return 1 << 20;
    if (/^\d+$/.test(out)) return Number(out);
  } catch {
    /* no shell */
  }
  return 1024;
}

export interface ResolvedHttpLimits {
  limits: HttpLimits;
  /** Settings that defeat the purpose (limits past the open-file budget): logged at start. */
  warnings: string[];
}

/** `server.*` keys → limits; defaults for what is not set. Throws naming the key when timeouts contradict. */
export function resolveHttpLimits(server: FidoConfig['server'] = {}, openFiles = openFileLimit()): ResolvedHttpLimits {
  const ms = (v: string | number | undefined, fallback: string, key: string) => {
    const n = parseDuration(v ?? fallback, `server.${key}`);
    if (!(n > 0)) throw new Error(`server.${key}: must be above zero`);
    return Math.round(n);
  };
  const headersTimeoutMs = ms(server.headers_timeout, DEFAULT_TIMEOUTS.headers, 'headers_timeout');
  const requestTimeoutMs = ms(server.request_timeout, DEFAULT_TIMEOUTS.request, 'request_timeout');
  if (headersTimeoutMs > requestTimeoutMs) throw new Error('server.headers_timeout: must not be longer than server.request_timeout');
  const budget = Math.max(32, Math.floor(openFiles * FD_SHARE));
  const maxConnections = server.max_connections ?? Math.max(16, Math.floor(budget * 0.9));
  const shedCapacity = Math.max(16, Math.ceil(maxConnections / 10));
  const warnings: string[] = [];
  if (maxConnections + shedCapacity > budget) {
    warnings.push(
      `server.max_connections ${maxConnections} (+ ${shedCapacity} being shed) is past ${Math.round(FD_SHARE * 100)}% of the open-file limit ${openFiles}: ` +
        'a flood of connections can exhaust descriptors; lower it or raise `ulimit -n`',
    );
  }
  return {
    limits: {
      headersTimeoutMs,
      requestTimeoutMs,
      keepAliveTimeoutMs: ms(server.keep_alive_timeout, DEFAULT_TIMEOUTS.keepAlive, 'keep_alive_timeout'),
      idleTimeoutMs: ms(server.idle_timeout, DEFAULT_TIMEOUTS.idle, 'idle_timeout'),
      checkIntervalMs: Math.min(1000, Math.max(100, Math.floor(headersTimeoutMs / 4))),
      maxConnections,
      maxConnectionsPerAddress: Math.min(server.max_connections_per_address ?? DEFAULT_PER_ADDRESS, maxConnections),
      shedCapacity,
      // Long enough for a client that means it to send a request head, short enough that a flood of stalled
      // connections turns over quickly.
      shedGraceMs: Math.min(1000, headersTimeoutMs),
      retryAfterSeconds: 5,
    },
    warnings,
  };
}

