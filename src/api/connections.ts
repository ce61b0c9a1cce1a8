/**
 * The HTTP server against slow and many clients (issue 13 item 5).
 *
 * Timeouts, enforced by Node's http server:
 * - `headers_timeout`: the request line and headers must be in within it, counted from the accept (so a
 *   connection that sends nothing is cut too). A slowloris that trickles a byte at a time never trips an idle
 *   clock; this one cuts it (408; looked for every `checkIntervalMs`).
 * - `request_timeout`: the whole request, body included (a body trickled in the same way).
 * - `keep_alive_timeout`: an idle keep-alive connection waiting for its next request (Node adds 1 s to what it
 *   announces, against races with clients reusing the connection at the last moment).
 * - `idle_timeout`: no byte either way, at any stage: also a client that sent its request and does not read
 *   the answer, which the other clocks no longer watch.
 *
 * Limits: at most `maxConnections` connections are served at once, at most `maxConnectionsPerAddress` of them
 * from one address (`server.trust_proxy` addresses excepted: a proxy carries many clients). A connection past
 * either is still accepted, but only to be shed: its request gets 503 with Retry-After and `Connection: close`
 * (except `/healthz`, which is answered: a health check sees the process alive while it sheds), and it is
 * closed if its request head is not in within `shedGraceMs`. At most `shedCapacity` connections are being shed
 * at once; past that, new ones are closed unanswered — the descriptors are what must not run out. The default
 * `maxConnections + shedCapacity` is 3/4 of the process's open-file limit, leaving the rest for the store,
 * outbound calls (enrichment, actions), receivers and worker threads.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { httpConnections, httpConnectionsDropped, httpConnectionsShed } from '../metrics.js';
import { canonicalAddress } from './client-address.js';
import type { HttpLimits } from './limits.js';

export type ShedReason = 'total' | 'per_address';

export interface ConnectionGuard {
  /** Why `socket` was accepted only to be shed; null when it is served (or is not a real connection: inject). */
  shedReason(socket: Socket): ShedReason | null;
  /** A request head arrived on a shed connection: it is being answered, so its grace period ends. */
  answering(socket: Socket): void;
  /** Connections being served and being shed now. */
  counts(): { served: number; shedding: number };
}

/** Counts connections on `server` as they are accepted, and marks or closes those past the limits. */
export function guardConnections(server: Server, limits: HttpLimits, isTrustedProxy: (address: string | undefined) => boolean = () => false): ConnectionGuard {
  const perAddress = new Map<string, number>();
  const shed = new WeakMap<Socket, { reason: ShedReason; timer: NodeJS.Timeout }>();
  let served = 0;
  let shedding = 0;
  // Node's own cap, a backstop to the accounting below: past it the kernel connection is closed at accept.
  server.maxConnections = limits.maxConnections + limits.shedCapacity;
  server.on('drop', () => httpConnectionsDropped.inc());

  // Prepended, so that the connection is counted and marked before the http parser attaches to it.
  server.prependListener('connection', (socket: Socket) => {
    const key = canonicalAddress(socket.remoteAddress);
    const fromAddress = perAddress.get(key) ?? 0;
    const reason: ShedReason | null =
      served >= limits.maxConnections
        ? 'total'
        : limits.maxConnectionsPerAddress > 0 && fromAddress >= limits.maxConnectionsPerAddress && !isTrustedProxy(socket.remoteAddress)
          ? 'per_address'
          : null;
    if (reason === null) {
      served++;
      perAddress.set(key, fromAddress + 1);
      httpConnections.inc({ state: 'served' });
      socket.once('close', () => {
        served--;
        const n = (perAddress.get(key) ?? 1) - 1;
        if (n > 0) perAddress.set(key, n);
        else perAddress.delete(key);
        httpConnections.dec({ state: 'served' });
      });
      return;
    }
    if (shedding >= limits.shedCapacity) {
      httpConnectionsDropped.inc();
      // After the http server's own listener has seen it (it expects a live socket).
      process.nextTick(() => socket.destroy());
      return;
    }
    shedding++;
    httpConnectionsShed.inc({ reason });
    httpConnections.inc({ state: 'shed' });
    const timer = setTimeout(() => socket.destroy(), limits.shedGraceMs);
    timer.unref();
    shed.set(socket, { reason, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      shedding--;
      httpConnections.dec({ state: 'shed' });
    });
  });

  return {
    shedReason: (socket) => shed.get(socket)?.reason ?? null,
    answering(socket) {
      const s = shed.get(socket);
      if (s) clearTimeout(s.timer);
    },
    counts: () => ({ served, shedding }),
  };
}
