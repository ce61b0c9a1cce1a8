/**
 * OpenVPN session kill: ends a client's VPN session through the server's management interface
 * (`--management`, TCP or unix socket; management-notes.txt in the openvpn package is the reference).
 *
 *   actions:
 *     targets:
 *       - name: vpn-kill
 *         kind: openvpn_kill
 *         socket: /run/openvpn/server.sock      # or host: 127.0.0.1 + port: 7505
 *         password: ${env:OPENVPN_MGMT_PASSWORD} # the --management password file's line, if any
 *         timeout: 10s
 *
 * What is killed, in this order: `params.common_name` (`kill <cn>`: every session of that certificate),
 * `params.address` (`kill <ip:port>`), else the sessions of `params.user` or the incident's `user`, found in
 * `status 3` by their Username (auth-user-pass) or Common Name, case-insensitively, each killed by its real
 * address. Nothing to act on (no user) is refused.
 *
 * Never sends alert data it has not checked: a common name, user or address must match a strict pattern (no
 * spaces, quotes or control characters: one command per line is the protocol, so a newline would be a second
 * command); anything else is refused before connecting.
 *
 * Idempotent: "not found" on an attempt resumed after one whose outcome is unknown (its executor stopped
 * mid-call, or the call timed out: ActionContext.resumed) means the earlier attempt did it, and succeeds;
 * otherwise (a first attempt, or a retry after attempts that never reached the server) it is a permanent
 * error: there was no such session.
 * Not reversible: a killed session cannot be revived. `kill` drops the session on the server only; the client
 * notices at its ping-restart and reconnects unless its certificate or account is also disabled.
 */
import { connect, isIP, type Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { ActionError, defineAction, type ActionContext, type ActionOutcome, type ActionTarget } from '../action.js';
import { secretValue } from '../target-config.js';

/**
 * Common names and user names that may be sent or looked up: no whitespace, quotes, backslashes (OpenVPN's
 * command parser reads `"` and `\` as quoting), colons (`kill a:b` is an address) or control characters.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
/** `kill IP:port`: a dotted IPv4 address and a port (what OpenVPN prints as Real Address for IPv4). */
const ADDRESS = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

export const OpenvpnKillConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('openvpn_kill'),
    socket: Type.Optional(Type.String({ minLength: 1, description: 'Absolute path of the management unix socket (--management PATH unix)' })),
    host: Type.Optional(Type.String({ minLength: 1, description: 'Management TCP host (default 127.0.0.1); with port' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Management TCP port (--management HOST PORT)' })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'Management password, a secret reference such as ${env:OPENVPN_MGMT_PASSWORD}' })),
    timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type OpenvpnKillConfig = Static<typeof OpenvpnKillConfigSchema>;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_LINE = 64 * 1024;
const PASSWORD_PROMPT = 'ENTER PASSWORD:';

function check(cfg: OpenvpnKillConfig): ComponentProblem[] {
  if (cfg.socket !== undefined && (cfg.port !== undefined || cfg.host !== undefined)) {
    return [{ key: 'socket', message: 'give either socket or host/port, not both' }];
  }
  if (cfg.socket === undefined && cfg.port === undefined) return [{ key: 'port', message: 'give the management port (or socket)' }];
  if (cfg.socket !== undefined && !isAbsolute(cfg.socket)) return [{ key: 'socket', message: `must be an absolute path, got "${cfg.socket}"` }];
  if (cfg.password !== undefined && /[\r\n]/.test(cfg.password)) return [{ key: 'password', message: 'must be one line' }];
  return [];
}

// ───────────────────────────── the management session ─────────────────────────────

/**
 * One management-interface connection: lines in (`\r\n`), one command at a time out. Real-time notifications
 * (`>…`) may arrive between a command and its reply and are skipped.
 */
class Management {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i).replace(/\r$/, ''));
        this.buf = this.buf.slice(i + 1);
      }
      // The password prompt has no line end.
      if (this.buf.startsWith(PASSWORD_PROMPT)) {
        this.lines.push(PASSWORD_PROMPT);
        this.buf = this.buf.slice(PASSWORD_PROMPT.length);
      }
      if (this.buf.length > MAX_LINE) this.fail(new ActionError('openvpn management: over-long line', false));
      this.waiter?.();
    });
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('management interface closed the connection')));
  }

  static open(cfg: OpenvpnKillConfig, signal: AbortSignal): Promise<Management> {
    return new Promise((resolve, reject) => {
      const sock = cfg.socket !== undefined ? connect(cfg.socket) : connect(cfg.port!, cfg.host ?? '127.0.0.1');
      const m = new Management(sock);
      const onAbort = () => sock.destroy(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => resolve(m));
      sock.once('error', reject);
      sock.once('close', () => signal.removeEventListener('abort', onAbort));
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.waiter?.();
  }

  /** The next line, or the connection's failure. */
  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      const take = () => {
        const l = this.lines.shift();
        if (l !== undefined) {
          this.waiter = null;
          resolve(l);
        } else if (this.failure) {
          this.waiter = null;
          reject(this.failure);
        }
      };
      this.waiter = take;
      take();
    });
  }

  /** The next line that is not a real-time notification. */
  async reply(): Promise<string> {
    for (;;) {
      const l = await this.next();
      if (!l.startsWith('>')) return l;
    }
  }

  send(line: string): void {
    // Everything sent was checked against SAFE_NAME / ADDRESS or is a constant; this is the last line of defence.
    if (/[\r\n\0]/.test(line)) throw new ActionError('refusing to send a command with a line break', false);
    this.sock.write(`${line}\n`);
  }

  /** A single-line command's `SUCCESS:`/`ERROR:` reply. */
  async command(line: string): Promise<{ ok: boolean; text: string }> {
    this.send(line);
    for (;;) {
      const l = await this.reply();
      if (l.startsWith('SUCCESS:')) return { ok: true, text: l.slice(8).trim() };
      if (l.startsWith('ERROR:')) return { ok: false, text: l.slice(6).trim() };
    }
  }

  /** A multi-line command's lines, up to `END`. */
  async multi(line: string): Promise<string[]> {
    this.send(line);
    const out: string[] = [];
    for (;;) {
      const l = await this.reply();
      if (l === 'END') return out;
      if (l.startsWith('ERROR:')) throw new ActionError(`openvpn management: ${line}: ${l.slice(6).trim()}`, false);
      out.push(l);
    }
  }

  /** Waits for the greeting, answering the password prompt first when there is one. */
  async login(password: string | undefined): Promise<void> {
    let l = await this.next();
    if (l === PASSWORD_PROMPT) {
      if (password === undefined) throw new ActionError('openvpn management asks for a password and none is configured (password:)', false);
      this.send(password);
      l = await this.next();
      // A wrong password is answered with the prompt again (OpenVPN 2.6), or an ERROR: line.
      if (l === PASSWORD_PROMPT || l.startsWith('ERROR:')) throw new ActionError('openvpn management refused the password', false);
      if (l.startsWith('SUCCESS:')) l = await this.next();
    }
    if (!l.startsWith('>INFO:')) throw new ActionError(`openvpn management: unexpected greeting "${l.slice(0, 100)}"`, false);
  }

  close(): void {
    if (!this.sock.destroyed) this.sock.end('quit\n');
  }
}

// ───────────────────────────── status ─────────────────────────────

export interface VpnSession {
  common_name: string;
  address: string;
  username: string | null;
  client_id: string | null;
}

/** The CLIENT_LIST rows of `status 3` (TAB-separated, column names from its HEADER line). */
export function parseStatus3(lines: string[]): VpnSession[] {
  let cols: string[] = [];
  const out: VpnSession[] = [];
  for (const line of lines) {
    const f = line.split('\t');
    if (f[0] === 'HEADER' && f[1] === 'CLIENT_LIST') cols = f.slice(2);
    else if (f[0] === 'CLIENT_LIST') {
      const v = (name: string) => {
        const i = cols.indexOf(name);
        return i >= 0 ? (f[i + 1] ?? '') : '';
      };
      const username = v('Username');
      out.push({
        common_name: v('Common Name'),
        address: v('Real Address'),
        username: username && username !== 'UNDEF' ? username : null,
        client_id: v('Client ID') || null,
      });
    }
  }
  return out;
}

// ───────────────────────────── what to kill ─────────────────────────────

type Target = { by: 'common_name'; value: string } | { by: 'address'; value: string } | { by: 'user'; value: string };

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** What the action acts on, checked; refuses (permanently) anything that could be more than one token. */
export function killTarget(ctx: ActionContext): Target {
  const p = ctx.action.params ?? {};
  const cn = str(p.common_name);
  if (cn !== undefined) {
    if (!SAFE_NAME.test(cn)) throw new ActionError(`openvpn_kill: refusing common name ${JSON.stringify(cn.slice(0, 80))} (not a plain name)`, false);
    return { by: 'common_name', value: cn };
  }
  const addr = str(p.address);
  if (addr !== undefined) {
    const m = ADDRESS.exec(addr);
    if (!m || isIP(m[1]!) !== 4 || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new ActionError(`openvpn_kill: refusing address ${JSON.stringify(addr.slice(0, 80))} (expected IPv4:port)`, false);
    }
    return { by: 'address', value: addr };
  }
  const user = str(p.user) ?? str(ctx.incident.user ?? undefined);
  if (user === undefined) throw new ActionError('openvpn_kill: nothing to act on (no params.common_name, params.address, params.user nor incident user)', false);
  if (!SAFE_NAME.test(user)) throw new ActionError(`openvpn_kill: refusing user ${JSON.stringify(user.slice(0, 80))} (not a plain name)`, false);
  return { by: 'user', value: user };
}

function transportError(e: unknown, signal: AbortSignal): ActionError {
  if (e instanceof ActionError) return e;
  if (signal.aborted) return new ActionError('openvpn management: no answer before the timeout (another management client connected?)', true, undefined, true);
  const err = e as NodeJS.ErrnoException;
  return new ActionError(`openvpn management: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`, true);
}

async function create(cfg: OpenvpnKillConfig): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const password = secretValue(cfg.password, `${key}.password`);
  if (password !== undefined && /[\r\n]/.test(password)) throw new Error(`${key}.password: must be one line`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const target = killTarget(ctx); // before connecting: refused input never reaches the server
    const resumed = ctx.resumed;
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
    let m: Management | undefined;
    try {
      m = await Management.open(cfg, signal);
      await m.login(password);
      const killed: Array<{ common_name?: string; address?: string; reply: string }> = [];
      let notFound: string | null = null;
      if (target.by === 'user') {
        const wanted = target.value.toLowerCase();
        const sessions = parseStatus3(await m.multi('status 3')).filter(
          (s) => s.username?.toLowerCase() === wanted || s.common_name.toLowerCase() === wanted,
        );
        for (const s of sessions) {
          if (!ADDRESS.test(s.address)) throw new ActionError(`openvpn_kill: cannot kill session at "${s.address.slice(0, 80)}" by address`, false);
          const r = await m.command(`kill ${s.address}`);
          // Gone between status and kill: the same as killed.
          if (!r.ok && !/not found/.test(r.text)) throw new ActionError(`openvpn management: kill ${s.address}: ${r.text}`, false);
          killed.push({ common_name: s.common_name, address: s.address, reply: r.text });
        }
        if (sessions.length === 0) notFound = `no VPN session of user ${target.value}`;
      } else {
        const r = await m.command(`kill ${target.value}`);
        if (r.ok) killed.push({ [target.by]: target.value, reply: r.text });
        else if (/not found/.test(r.text)) notFound = r.text;
        else throw new ActionError(`openvpn management: kill: ${r.text}`, false);
      }
      if (notFound !== null) {
        if (!resumed) throw new ActionError(`openvpn_kill: ${notFound}`, false);
        return { detail: { by: target.by, [target.by]: target.value, killed: [], already_gone: true, reply: notFound } };
      }
      return { detail: { by: target.by, [target.by]: target.value, killed } };
    } catch (e) {
      throw transportError(e, signal);
    } finally {
      m?.close();
    }
  }

  return { name: cfg.name, kind: 'openvpn_kill', execute };
}

const openvpnKill = defineAction({
  kind: 'openvpn_kill',
  description: "Ends an OpenVPN client's session (kill by common name, address or the incident user's session) through the management interface",
  schema: OpenvpnKillConfigSchema,
  check,
  create,
  containment: true,
});
export default openvpnKill;
