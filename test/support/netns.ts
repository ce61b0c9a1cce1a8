/**
 * Two throw-away network namespaces joined by a veth pair, for tests that change a real firewall: a TCP listener
 * in the server namespace and a probe that connects to it from the client namespace. Needs root, iproute2 and
 * (for the firewall itself) nftables; `netnsProblem()` says why it cannot run here.
 *
 *   server ns "fido-<pid>-<n>-srv"  10.200.0.1/24  fd00:f1d0::1/64   listener on [::]:8080 (dual stack)
 *   client ns "fido-<pid>-<n>-cli"  10.200.0.2/24  fd00:f1d0::2/64   probe agent
 *
 * The addresses exist only inside the two namespaces, so every pair may use the same ones. Recipe: the
 * project's notes on real infrastructure parts, section 4 (nftables inside network namespaces). Both ends are
 * small node processes started with `ip netns exec`, which execs in place, so their PIDs are node's own.
 * `close()` stops them by PID and deletes both namespaces (which removes the veth pair and any nft tables in
 * them); a process exit handler does the same if a test dies before its `after` hook.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const IP = '/usr/sbin/ip';

export interface NetnsPair {
  srv: string;
  cli: string;
  srvAddr: string;
  cliAddr: string;
  srvAddr6: string;
  cliAddr6: string;
  port: number;
  /**
   * Connects from the client namespace to the listener (IPv4, or IPv6 with `v6`) and waits for its greeting:
   * true when it arrives within `timeoutMs`, false on a timeout or a refused/reset connection.
   */
  probe(opts?: { v6?: boolean; timeoutMs?: number }): Promise<boolean>;
  /** Runs `nft` in the server namespace (set-up and inspection by tests), with `input` on stdin. */
  nft(args: string[], input?: string): string;
  close(): Promise<void>;
}

/** Why the harness cannot run on this machine, or null. */
export function netnsProblem(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const [bin, flag] of [[IP, '-V'], ['/usr/sbin/nft', '--version']] as const) {
    try {
      execFileSync(bin, [flag], { stdio: 'ignore' });
    } catch {
      return `${bin} is not available (Debian packages iproute2, nftables)`;
    }
  }
  return null;
}

// Greets each connection, so that a probe proves a full round trip rather than a half-open connect.
const SERVER = `
const net = require('node:net');
const s = net.createServer((c) => { c.on('error', () => {}); c.end('fido-ok\\n'); });
s.listen({ host: '::', port: Number(process.argv[1]), ipv6Only: false }, () => console.log('listening'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

// Reads {"id","host","port","timeoutMs"} lines, answers {"id","ok"} lines.
const AGENT = `
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const q = JSON.parse(line);
  let done = false;
  const answer = (ok) => { if (done) return; done = true; clearTimeout(t); sock.destroy(); console.log(JSON.stringify({ id: q.id, ok })); };
  const sock = net.connect({ host: q.host, port: q.port });
  const t = setTimeout(() => answer(false), q.timeoutMs);
  let got = '';
  sock.on('data', (d) => { got += d; if (got.includes('fido-ok')) answer(true); });
  sock.on('error', () => answer(false));
  sock.on('close', () => answer(got.includes('fido-ok')));
});
rl.on('close', () => process.exit(0));
console.log('ready');
`;

let counter = 0;

function ip(args: string[]): void {
  execFileSync(IP, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function waitForLine(child: ChildProcess, want: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const fail = () => reject(new Error(`${what} did not start: ${stderr.trim()}`));
    rl.on('line', (l) => {
      if (l.trim() === want) {
        child.off('exit', fail);
        rl.close();
        resolve();
      }
    });
    child.once('exit', fail);
  });
}

export async function createNetnsPair(): Promise<NetnsPair> {
  const n = ++counter;
  const srv = `fido-${process.pid}-${n}-srv`;
  const cli = `fido-${process.pid}-${n}-cli`;
  // Interface names are at most 15 characters.
  const vs = `fv${process.pid % 1e7}x${n}s`;
  const vc = `fv${process.pid % 1e7}x${n}c`;
  const port = 8080;
  const children: ChildProcess[] = [];
  let closed = false;

  /** Synchronous, so that it can run from the exit handler too; tolerant of half-made state. */
  function teardown(): void {
    if (closed) return;
    closed = true;
    for (const c of children) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
    for (const ns of [srv, cli]) try { ip(['netns', 'del', ns]); } catch { /* never made */ }
    try { ip(['link', 'del', vs]); } catch { /* went with its namespace */ }
  }
  process.on('exit', teardown);

  try {
    ip(['netns', 'add', srv]);
    ip(['netns', 'add', cli]);
    ip(['link', 'add', vs, 'type', 'veth', 'peer', 'name', vc]);
    ip(['link', 'set', vs, 'netns', srv]);
    ip(['link', 'set', vc, 'netns', cli]);
    for (const [ns, dev, last] of [[srv, vs, '1'], [cli, vc, '2']] as const) {
      ip(['-n', ns, 'addr', 'add', `10.200.0.${last}/24`, 'dev', dev]);
      // nodad: the address is usable at once rather than after duplicate address detection.
      ip(['-n', ns, 'addr', 'add', `fd00:f1d0::${last}/64`, 'dev', dev, 'nodad']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    const server = spawn(IP, ['netns', 'exec', srv, process.execPath, '-e', SERVER, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(server);
    const agent = spawn(IP, ['netns', 'exec', cli, process.execPath, '-e', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(agent);
    await Promise.all([waitForLine(server, 'listening', 'listener'), waitForLine(agent, 'ready', 'probe agent')]);

    const waiting = new Map<number, (ok: boolean) => void>();
    let nextId = 0;
    createInterface({ input: agent.stdout! }).on('line', (l) => {
      const a = JSON.parse(l) as { id: number; ok: boolean };
      waiting.get(a.id)?.(a.ok);
      waiting.delete(a.id);
    });

    return {
      srv,
      cli,
      srvAddr: '10.200.0.1',
      cliAddr: '10.200.0.2',
      srvAddr6: 'fd00:f1d0::1',
      cliAddr6: 'fd00:f1d0::2',
      port,
      probe({ v6 = false, timeoutMs = 3000 } = {}) {
        const id = ++nextId;
        return new Promise<boolean>((resolve) => {
          waiting.set(id, resolve);
          agent.stdin!.write(`${JSON.stringify({ id, host: v6 ? 'fd00:f1d0::1' : '10.200.0.1', port, timeoutMs })}\n`);
        });
      },
      nft(args: string[], input?: string): string {
        return execFileSync(IP, ['netns', 'exec', srv, '/usr/sbin/nft', ...args], { encoding: 'utf8', input });
      },
      async close() {
        teardown();
        process.off('exit', teardown);
      },
    };
  } catch (e) {
    teardown();
    process.off('exit', teardown);
    throw e;
  }
}
