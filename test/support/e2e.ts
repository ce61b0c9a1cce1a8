/**
 * A complete Fido in this process for end-to-end tests: real store (SQLite file or a fresh PostgreSQL
 * schema), a real SMTP server with STARTTLS and AUTH, a webhook receiver, and an admin token.
 */
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { startFido, type Fido } from '../../src/app.js';
import type { DialectName } from '../../src/store/dialect.js';
import { PG_URL, tempDir } from './stores.js';
import { selfSignedCert, startHttp, startSmtp, type HttpHarness, type SmtpHarness } from './servers.js';
import { writeE2eConfig, type E2eConfigOptions } from './config.js';

export const E2E_TOKEN = 'e2e-admin-token-0123456789';

/** The peers a Fido under test talks to, and the environment (FIDO_CONFIG, data dir, secrets) for it. */
export interface Peers {
  dir: string;
  smtp: SmtpHarness;
  hook: HttpHarness;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** What an end-to-end run may change in its configuration. */
export type E2eOptions = Partial<Pick<E2eConfigOptions, 'approvalForEscalate' | 'dedupWindow' | 'withoutCaches' | 'withoutWarmUp'>>;

export async function startPeers(prefix: string, token: string, opts: E2eOptions = {}): Promise<Peers> {
  const dir = tempDir(prefix);
  const cert = selfSignedCert(dir);
  const smtp = await startSmtp(cert, 'fido', 'smtp-pass');
  const hook = await startHttp();
  const env = {
    FIDO_CONFIG: writeE2eConfig({ dir, smtpPort: smtp.port, caFile: cert.certFile, webhookUrl: hook.url, ...opts }),
    FIDO_DATA_DIR: dir,
    FIDO_BOOTSTRAP_TOKEN: token,
    E2E_SMTP_PASSWORD: 'smtp-pass',
    E2E_HOOK_SECRET: 'hook-secret',
  };
  return {
    dir,
    smtp,
    hook,
    env,
    async close() {
      await smtp.close();
      await hook.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface E2e {
  fido: Fido;
  smtp: SmtpHarness;
  hook: HttpHarness;
  /** Calls the API with the admin token; throws on 4xx/5xx unless `expect` names the status. */
  api(path: string, init?: RequestInit & { expect?: number }): Promise<Response>;
  close(): Promise<void>;
}

export async function startE2e(dialect: DialectName, opts: E2eOptions = {}): Promise<E2e> {
  const peers = await startPeers('fido-e2e-', E2E_TOKEN, opts);
  const { smtp, hook } = peers;
  const schema = `fido_e2e_${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    ...peers.env,
    FIDO_ROLE: 'all',
    FIDO_DATABASE_URL: dialect === 'postgres' ? `${PG_URL}?schema=${schema}` : '',
  };
  const loaded = await loadConfig(peers.env.FIDO_CONFIG, env);
  const fido = await startFido({ loaded, env, port: 0 });
  return {
    fido,
    smtp,
    hook,
    async api(path, init = {}) {
      const { expect, ...rest } = init;
      const r = await fetch(`${fido.url}/api/v1${path}`, { ...rest, headers: { authorization: `Bearer ${E2E_TOKEN}`, ...(rest.headers ?? {}) } });
      if (expect !== undefined ? r.status !== expect : r.status >= 400) {
        throw new Error(`${rest.method ?? 'GET'} ${path}: HTTP ${r.status} ${await r.text()}`);
      }
      return r;
    },
    async close() {
      await fido.stop();
      if (dialect === 'postgres') {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      }
      await peers.close();
    },
  };
}
