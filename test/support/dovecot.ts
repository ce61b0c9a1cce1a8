/**
 * A real, throw-away Dovecot IMAP server (Debian's dovecot-core + dovecot-imapd, 2.3) for the imap receiver's
 * tests: a temp dir holding its config, a passwd-file user database, Maildir mail store, run and state dirs;
 * an imap listener (plaintext, STARTTLS offered) and an imaps listener on free ports of 127.0.0.1, with a
 * server certificate signed by a test CA made with openssl. Started with `dovecot -F -c conf` in a process
 * group of its own (detached), so stop() ends the master and its children together.
 *
 * Recipe: the project's notes on real infrastructure parts (section 2, "Dovecot"), copied here in code:
 * the temp dir must be 0755 and the mail dir owned by the mail uid (nobody), base_dir/state_dir inside the
 * temp dir, auth_failure_delay = 0 (else a wrong password costs 2 s), instance_name to tell processes apart.
 * Runs as root (Dovecot drops privileges itself), as on the test machines.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './servers.js';

export interface Dovecot {
  host: string;
  /** Plaintext IMAP (STARTTLS offered). */
  port: number;
  /** IMAPS. */
  tlsPort: number;
  /** PEM file of the CA that signed the server certificate. */
  caFile: string;
  /** A CA that signed nothing the server uses. */
  otherCaFile: string;
  user: string;
  password: string;
  dir: string;
  conf: string;
  /** An IMAP session as the test user, for set-up and inspection (logged in, plaintext listener). */
  client(): Promise<ImapFlow>;
  /** Runs doveadm against this instance (e.g. ['mailbox', 'update', '-u', user, '--uid-validity', '7', 'INBOX']). */
  doveadm(args: string[]): string;
  stop(): Promise<void>;
}

const USER = 'alice';
const PASSWORD = 'alice-imap-pw-Zq7';
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makeCerts(dir: string): void {
  const days = ['-days', '2'];
  openssl(['req', '-x509', ...KEY, '-nodes', ...days, '-subj', '/CN=Fido Test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-x509', ...KEY, '-nodes', ...days, '-subj', '/CN=Other CA', '-keyout', 'other.key', '-out', 'other.crt'], dir);
  openssl(['req', ...KEY, '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', ...days, '-extfile', 'san.ext', '-out', 'server.crt'], dir);
  chmodSync(join(dir, 'server.key'), 0o600);
}

function groupId(name: string): number {
  return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
}

function conf(dir: string, port: number, tlsPort: number, uid: number, gid: number): string {
  return `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = fido-dovecot-${port}
ssl = yes
ssl_cert = <${dir}/server.crt
ssl_key = <${dir}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
mail_location = maildir:${dir}/mail/%n/Maildir
first_valid_uid = 1
first_valid_gid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${dir}/users
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${dir}/mail/%n
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tlsPort}
  }
}
`;
}

/** Resolves once the server sends its "* OK" greeting on `port`. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) done(buf.startsWith('* OK'));
    });
    s.on('error', () => done(false));
  });
}

export async function startDovecot(): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-dovecot-'));
  chmodSync(dir, 0o755);
  for (const d of ['run', 'state', 'mail']) mkdirSync(join(dir, d));
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = groupId('nogroup');
  chownSync(join(dir, 'mail'), uid, gid);
  makeCerts(dir);
  writeFileSync(join(dir, 'users'), `${USER}:{PLAIN}${PASSWORD}::::::\n`);
  chmodSync(join(dir, 'users'), 0o640);
  chownSync(join(dir, 'users'), 0, groupId('dovecot'));
  const [port, tlsPort] = [await freePort(), await freePort()];
  const confFile = join(dir, 'dovecot.conf');
  writeFileSync(confFile, conf(dir, port, tlsPort, uid, gid));
  const child: ChildProcess = spawn('dovecot', ['-F', '-c', confFile], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => {
    try {
      return readFileSync(join(dir, 'dovecot.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM'); // the whole group: master, log, anvil, config, logins
      } catch {
        // gone already
      }
      await exited;
      // Children outlive the master by a moment; wait until none of this instance is left.
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(-child.pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let ready = false;
  for (let i = 0; i < 250 && !ready; i++) {
    if (child.exitCode !== null) break;
    ready = (await greets(port)) && (await greets(port));
    if (!ready) await new Promise((r) => setTimeout(r, 20));
  }
  if (!ready) {
    const why = `${stderr}\n${log()}`;
    await stop();
    throw new Error(`dovecot did not start: ${why}`);
  }
  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other.crt'),
    user: USER,
    password: PASSWORD,
    dir,
    conf: confFile,
    async client() {
      const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: USER, pass: PASSWORD }, logger: false, disableAutoIdle: true });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    doveadm(args) {
      return execFileSync('doveadm', ['-c', confFile, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    stop,
  };
}
