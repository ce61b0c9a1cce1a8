/**
 * A real, throw-away OpenLDAP server for the directory provider's tests: slapd 2.5 (Debian's `slapd` and
 * `ldap-utils` packages) in a temp dir, MDB backend, ppolicy overlay, ldap:// and ldaps:// listeners on free
 * ports of 127.0.0.1, a server certificate signed by a test CA made with openssl (StartTLS works on the
 * ldap:// listener too), seeded from test/fixtures/ldap/seed.ldif with ldapmodify. A small AD-shaped schema
 * (test/fixtures/ldap/ad-lite.schema) lets `ou=ad` hold entries with Active Directory's attribute names.
 *
 * Recipe: the project's notes on real infrastructure parts (section 1, "OpenLDAP slapd"), copied here in
 * code; see test/fixtures/ldap/SOURCE.md. Binds other than the rootdn are subject to `sizelimit 10`, so a
 * search of more than ten entries only succeeds when it is paged.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './servers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/ldap/', import.meta.url));

export interface Slapd {
  /** ldap://127.0.0.1:port (StartTLS available). */
  url: string;
  /** ldaps://127.0.0.1:port */
  ldapsUrl: string;
  /** PEM file of the CA that signed the server certificate. */
  caFile: string;
  /** A CA that signed nothing the server uses (for the "wrong CA" case). */
  otherCaFile: string;
  /** The service account the provider binds as. */
  bindDn: string;
  bindPassword: string;
  /** The directory manager (not size-limited), for test set-up. */
  adminDn: string;
  adminPassword: string;
  suffix: string;
  dir: string;
  /** Applies LDIF (adds and changetype records) as the directory manager. */
  apply(ldif: string): void;
  stop(): Promise<void>;
}

const SUFFIX = 'dc=example,dc=test';
const ADMIN_DN = `cn=admin,${SUFFIX}`;
const ADMIN_PW = 'adminpw';

/** EC keys: RSA key generation would cost a few hundred ms of start-up. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, and a certificate for 127.0.0.1/localhost signed by it; plus an unrelated CA. */
function makeCerts(dir: string): void {
  const days = ['-days', '2'];
  openssl(['req', '-x509', ...KEY, '-nodes', ...days, '-subj', '/CN=Fido Test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-x509', ...KEY, '-nodes', ...days, '-subj', '/CN=Other CA', '-keyout', 'other.key', '-out', 'other.crt'], dir);
  openssl(['req', ...KEY, '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', ...days, '-extfile', 'san.ext', '-out', 'server.crt'], dir);
}

export interface SlapdOptions {
  /**
   * Extra `access to …` rules, placed before the defaults (users read everything, userPassword is for
   * binding only): slapd uses the first rule whose `to` matches, so these win for what they name. E.g.
   * `access to attrs=pwdAccountLockedTime by dn.exact="cn=…" write by users read by * none`.
   */
  acl?: string[];
}

function slapdConf(dir: string, opts: SlapdOptions = {}): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include ${FIXTURES}ad-lite.schema
modulepath /usr/lib/ldap
moduleload back_mdb.so
moduleload ppolicy.so
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${dir}/ca.crt
TLSCertificateFile ${dir}/server.crt
TLSCertificateKeyFile ${dir}/server.key
sizelimit 10

database mdb
maxsize 67108864
suffix "${SUFFIX}"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PW}
directory ${dir}/db
index objectClass,uid,cn,member,mail,sAMAccountName,userPrincipalName eq
overlay ppolicy
ppolicy_default "cn=default,ou=policies,${SUFFIX}"
ppolicy_use_lockout
limits users size.soft=10 size.hard=10 size.pr=noEstimate size.prtotal=unlimited
${(opts.acl ?? []).map((rule) => `${rule}\n`).join('')}access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`;
}

async function waitReady(url: string, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${readFileSync(log, 'utf8')}`);
    try {
      execFileSync('ldapsearch', ['-x', '-H', url, '-b', '', '-s', 'base', '-LLL', 'namingContexts'], { stdio: 'pipe' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`slapd did not answer on ${url}`);
}

/** Starts slapd seeded with seed.ldif, plus `extraLdif` (e.g. generated entries); `opts.acl` adds access rules. */
export async function startSlapd(extraLdif = '', opts: SlapdOptions = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-slapd-'));
  mkdirSync(join(dir, 'db'));
  makeCerts(dir);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir, opts));
  execFileSync('slaptest', ['-u', '-f', conf], { stdio: 'pipe' });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  const log = join(dir, 'slapd.log');
  // -d 0: stays in the foreground (its PID is ours to stop) and logs nothing.
  const child = spawn('slapd', ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, log);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  const apply = (ldif: string) => {
    const file = join(dir, `apply-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
    writeFileSync(file, ldif);
    execFileSync('ldapmodify', ['-a', '-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PW, '-f', file], { stdio: 'pipe' });
  };
  try {
    apply(readFileSync(join(FIXTURES, 'seed.ldif'), 'utf8') + (extraLdif ? `\n${extraLdif}` : ''));
  } catch (e) {
    await stop();
    throw new Error(`seeding slapd failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}`);
  }
  return {
    url,
    ldapsUrl,
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other.crt'),
    bindDn: `cn=fido,ou=services,${SUFFIX}`,
    bindPassword: 'fido-S3cret-pw',
    adminDn: ADMIN_DN,
    adminPassword: ADMIN_PW,
    suffix: SUFFIX,
    dir,
    apply,
    stop,
  };
}
