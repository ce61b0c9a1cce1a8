/**
 * A real OpenVPN 2.6 server with real clients, for the openvpn_kill tests. The server needs a tun device, so it
 * runs in a network namespace of its own (its tun0 and routes never touch the host's); its clients run in the
 * same namespace and connect over that namespace's loopback. The management interface is a unix socket in a
 * temp dir, reachable from the host namespace (where the code under test runs). PKI (EC P-256, 1-day certs) is
 * made fresh with openssl in the temp dir. Needs root (ip netns), /dev/net/tun, openvpn and openssl.
 *
 * `startOpenvpnHold` is an OpenVPN that needs no tun and no namespace: a client held at start
 * (`--management-hold`), which serves the management interface on TCP 127.0.0.1 of the host and does nothing
 * else (its `kill` answers "not supported"); for TCP and password tests.
 *
 * Everything is removed by close() (processes, namespace, temp dir), and by an exit hook if a test dies first.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './stores.js';
import { waitFor } from './wait.js';

export const OPENVPN = '/usr/sbin/openvpn';

/** Why the real-server tests cannot run here, or null. */
export function openvpnUnavailable(): string | null {
  if (!existsSync(OPENVPN)) return `${OPENVPN} is not installed`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is not installed';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'ip netns is not usable';
  return null;
}

const cleanups = new Set<() => void>();
process.on('exit', () => {
  for (const c of cleanups) c();
});

function run(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, a server certificate and one client certificate per name (the name is the CN). */
function makePki(dir: string, clients: string[]): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Fido test VPN CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const issue = (name: string, eku: string) => {
    run('openssl', ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=${eku}\n`);
    run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
  };
  issue('server', 'serverAuth');
  for (const c of clients) issue(c, 'clientAuth');
}

function logHas(file: string, text: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(text);
  } catch {
    return false;
  }
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 2000);
  await gone;
  clearTimeout(t);
}

/** A minimal management client of the harness's own (not the code under test): each command's reply lines. */
export async function management(where: string | number, commands: string[], password?: string): Promise<string[][]> {
  const sock = typeof where === 'string' ? connect(where) : connect(where, '127.0.0.1');
  sock.setEncoding('utf8');
  let buf = '';
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  sock.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
    if (buf.startsWith('ENTER PASSWORD:')) {
      lines.push('ENTER PASSWORD:');
      buf = '';
    }
    wake?.();
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    closed = true;
    wake?.();
  });
  const next = async (): Promise<string> => {
    while (lines.length === 0) {
      if (closed) throw new Error('management connection closed');
      await new Promise<void>((r) => (wake = r));
    }
    return lines.shift()!;
  };
  try {
    let first = await next();
    if (first === 'ENTER PASSWORD:') {
      sock.write(`${password}\n`);
      await next(); // SUCCESS: password is correct
      first = await next();
    }
    const out: string[][] = [];
    for (const cmd of commands) {
      sock.write(`${cmd}\n`);
      const multi = /^(status|version|help|state)\b/.test(cmd);
      const reply: string[] = [];
      for (;;) {
        const l = await next();
        if (l.startsWith('>')) continue;
        if (multi ? l === 'END' : /^(SUCCESS|ERROR):/.test(l)) {
          if (!multi) reply.push(l);
          break;
        }
        reply.push(l);
      }
      out.push(reply);
    }
    return out;
  } finally {
    sock.end('quit\n');
  }
}

export interface VpnClientSpec {
  /** The certificate's common name. */
  cn: string;
  /** Sent with auth-user-pass (the server accepts any password); absent: no user name. */
  username?: string;
}

export interface OpenvpnServer {
  dir: string;
  /** The management unix socket. */
  socket: string;
  password: string | undefined;
  /** `status 3` CLIENT_LIST rows as {cn, address, username}, through the harness's own client. */
  sessions(): Promise<Array<{ cn: string; address: string; username: string }>>;
  /** The server's log, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

let seq = 0;

/** A server in a fresh namespace with `clients` connected; resolves when all are listed in `status`. */
export async function startOpenvpnServer(opts: { clients: VpnClientSpec[]; password?: string }): Promise<OpenvpnServer> {
  const dir = tempDir('fido-ovpn-');
  const ns = `fido-ovpn-${process.pid}-${++seq}`;
  const procs: ChildProcess[] = [];
  let nsMade = false;
  const cleanupSync = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    if (nsMade) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(cleanupSync);
  const close = async () => {
    await Promise.all(procs.map(stop));
    cleanupSync();
    cleanups.delete(cleanupSync);
  };
  try {
    makePki(dir, opts.clients.map((c) => c.cn));
    run('ip', ['netns', 'add', ns]);
    nsMade = true;
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const socket = join(dir, 'mgmt.sock');
    const mgmt = ['--management', socket, 'unix'];
    if (opts.password !== undefined) {
      writeFileSync(join(dir, 'mgmt.pw'), `${opts.password}\n`, { mode: 0o600 });
      mgmt.push(join(dir, 'mgmt.pw'));
    }
    const common = ['--proto', 'udp4', '--ca', join(dir, 'ca.crt'), '--dev', 'tun', '--disable-dco', '--verb', '3'];
    const serverLog = join(dir, 'server.log');
    // keepalive 10 120: a killed client does not notice (and reconnect) within a test's lifetime.
    // Any user name and password pass (auth-user-pass-verify /bin/true): the Username column is what is tested.
    const server = spawn('ip', ['netns', 'exec', ns, OPENVPN, ...common, '--local', '127.0.0.1', '--port', '11940', '--topology', 'subnet',
      '--server', '10.8.0.0', '255.255.255.0', '--cert', join(dir, 'server.crt'), '--key', join(dir, 'server.key'), '--dh', 'none',
      '--keepalive', '10', '120', '--script-security', '2', '--auth-user-pass-verify', '/bin/true', 'via-file', '--auth-user-pass-optional',
      ...mgmt, '--log', serverLog], { stdio: 'ignore' });
    procs.push(server);
    await waitFor('the OpenVPN server to start', () => logHas(serverLog, 'Initialization Sequence Completed') || (server.exitCode !== null && 'exited'), 10_000, 20)
      .then((r) => {
        if (r === 'exited') throw new Error(`openvpn server exited:\n${readFileSync(serverLog, 'utf8')}`);
      });
    for (const c of opts.clients) {
      const args = [...common, '--client', '--remote', '127.0.0.1', '11940', '--nobind', '--cert', join(dir, `${c.cn}.crt`), '--key', join(dir, `${c.cn}.key`),
        '--remote-cert-tls', 'server', '--route-noexec', '--connect-retry', '1', '1', '--log', join(dir, `${c.cn}.log`)];
      if (c.username !== undefined) {
        const f = join(dir, `${c.cn}.up`);
        writeFileSync(f, `${c.username}\nany-password\n`);
        chmodSync(f, 0o600);
        args.push('--auth-user-pass', f);
      }
      procs.push(spawn('ip', ['netns', 'exec', ns, OPENVPN, ...args], { stdio: 'ignore' }));
    }
    const sessions = async () => {
      const [status] = await management(socket, ['status 3'], opts.password);
      return status!
        .map((l) => l.split('\t'))
        .filter((f) => f[0] === 'CLIENT_LIST')
        .map((f) => ({ cn: f[1]!, address: f[2]!, username: f[9]! }));
    };
    await waitFor('the OpenVPN clients to connect', async () => (await sessions()).length === opts.clients.length, 10_000, 50);
    return { dir, socket, password: opts.password, sessions, log: () => readFileSync(serverLog, 'utf8'), close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** An OpenVPN held at start, serving only its management interface on TCP 127.0.0.1:port (no tun, no namespace). */
export async function startOpenvpnHold(opts: { password?: string }): Promise<{ port: number; close(): Promise<void> }> {
  const dir = tempDir('fido-ovpn-hold-');
  let proc: ChildProcess | undefined;
  const cleanupSync = () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(cleanupSync);
  const close = async () => {
    if (proc) await stop(proc);
    cleanupSync();
    cleanups.delete(cleanupSync);
  };
  try {
    makePki(dir, ['held']);
    const port = await freePort();
    const mgmt = ['--management', '127.0.0.1', String(port)];
    if (opts.password !== undefined) {
      writeFileSync(join(dir, 'mgmt.pw'), `${opts.password}\n`, { mode: 0o600 });
      mgmt.push(join(dir, 'mgmt.pw'));
    }
    const log = join(dir, 'hold.log');
    proc = spawn(OPENVPN, ['--client', '--dev', 'null', '--remote', '127.0.0.1', '9', '--nobind', '--ca', join(dir, 'ca.crt'), '--cert', join(dir, 'held.crt'),
      '--key', join(dir, 'held.key'), '--management-hold', ...mgmt, '--verb', '3', '--log', log], { stdio: 'ignore' });
    await waitFor('the held OpenVPN to listen', () => logHas(log, 'MANAGEMENT: TCP Socket listening') || (proc!.exitCode !== null && 'exited'), 10_000, 20)
      .then((r) => {
        if (r === 'exited') throw new Error(`openvpn exited:\n${readFileSync(log, 'utf8')}`);
      });
    return { port, close };
  } catch (e) {
    await close();
    throw e;
  }
}
