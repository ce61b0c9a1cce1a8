/**
 * Slow and misbehaving HTTP clients, by the thousand, from a child process (slow-clients-child.ts), for the
 * tests of the server's timeouts and connection limits. Clients connect from chosen loopback addresses
 * (127.0.0.0/8 is all loopback on Linux), so that per-address limits can be exercised on one machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * partial-line: half a request line, then nothing · silent: connects and sends nothing · trickle-headers: a
 * header line every 250 ms, never the end of the head · trickle-body: a full POST head, then a body byte every 250 ms.
 */
export type Shape = 'partial-line' | 'silent' | 'trickle-headers' | 'trickle-body';

export interface SlowSocket {
  from: string;
  shape: Shape;
  /** When the connection was established (or, for one that never was, closed). */
  openedAt: number;
  /** When the connection closed (the server closed it, or reset it); null while open. */
  closedAt: number | null;
  /** The first bytes the server sent, e.g. "HTTP/1.1 408 Request Timeout". */
  received: string;
}

export interface SlowGroup {
  from: string;
  shape: Shape;
  count: number;
}

export type ChildRequest =
  | { id: number; cmd: 'open'; port: number; groups: SlowGroup[]; postHead?: string }
  | { id: number; cmd: 'report' }
  | { id: number; cmd: 'destroy' };
export type ChildReply = { id: number; first?: number; end?: number; sockets?: SlowSocket[] };

export interface SlowClients {
  /** Opens the groups' connections (200 at a time) and resolves once every one is established or refused: their indexes. */
  open(port: number, groups: SlowGroup[], opts?: { postHead?: string }): Promise<{ first: number; end: number }>;
  report(): Promise<SlowSocket[]>;
  /** Polls the report until `ok` holds; throws naming `what` after `ms`. */
  until(what: string, ok: (sockets: SlowSocket[]) => boolean, ms: number): Promise<SlowSocket[]>;
  /** Closes every connection opened so far (the process stays, for the next test). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./slow-clients-child.ts', import.meta.url));

export async function startSlowClients(): Promise<SlowClients> {
  const child: ChildProcess = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (r: ChildReply) => void>();
  let next = 0;
  child.on('message', (r: ChildReply) => {
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  });
  const ask = (req: ChildRequest extends infer R ? (R extends ChildRequest ? Omit<R, 'id'> : never) : never): Promise<ChildReply> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, resolve);
      child.send({ ...req, id } as ChildRequest, (e) => e && reject(e));
    });
  const report = async () => (await ask({ cmd: 'report' })).sockets!;
  return {
    async open(port, groups, opts = {}) {
      const r = await ask({ cmd: 'open', port, groups, ...(opts.postHead ? { postHead: opts.postHead } : {}) });
      return { first: r.first!, end: r.end! };
    },
    report,
    async until(what, ok, ms) {
      const end = Date.now() + ms;
      for (;;) {
        const sockets = await report();
        if (ok(sockets)) return sockets;
        if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
        await sleep(50);
      }
    },
    async reset() {
      await ask({ cmd: 'destroy' });
    },
    async close() {
      if (child.exitCode !== null || !child.connected) return;
      await ask({ cmd: 'destroy' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
