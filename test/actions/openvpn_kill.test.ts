/**
 * openvpn_kill against a real OpenVPN 2.6 server with real clients (test/support/openvpn.ts): sessions are
 * killed by common name, by the incident user's session (Username column of `status 3`), a second attempt
 * after "not found" is done, a wrong management password is final, hostile names never reach the server.
 * The management protocol is OpenVPN's management-notes.txt (in the openvpn package).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Value } from 'typebox/value';
import openvpnKill, { parseStatus3, type OpenvpnKillConfig } from '../../src/actions/kinds/openvpn_kill.js';
import { ActionError, type ActionContext, type ActionTarget } from '../../src/actions/action.js';
import { actionRecord, sampleIncident } from './fixtures.js';
import { firstAttempt } from './support.js';
import { openvpnUnavailable, startOpenvpnHold, startOpenvpnServer, type OpenvpnServer } from '../support/openvpn.js';


function ctx(params: Record<string, unknown>, opts: { user?: string | null; attempts?: number; resumed?: boolean } = {}): ActionContext {
  const incident = sampleIncident();
  if (opts.user !== undefined) incident.user = opts.user;
  const action = { ...actionRecord(incident.id, 'openvpn_kill', 'vpn'), params, attempts: opts.attempts ?? 1 };
  return { action, incident, idempotencyKey: action.idempotency_key, signal: AbortSignal.timeout(5000), ...firstAttempt, resumed: opts.resumed ?? false };
}

const isPermanent = (re: RegExp) => (e: unknown) => e instanceof ActionError && !e.retryable && re.test(e.message);

describe('openvpn_kill config', () => {
  test('schema and check name the key', () => {
    const ok: OpenvpnKillConfig = { name: 'vpn', kind: 'openvpn_kill', socket: '/run/openvpn.sock' };
    assert.equal(Value.Check(openvpnKill.schema, ok), true);
    assert.equal(Value.Check(openvpnKill.schema, { ...ok, port: 70000 }), false);
    assert.equal(Value.Check(openvpnKill.schema, { ...ok, command: 'x' }), false, 'no unknown keys');
    assert.deepEqual(openvpnKill.check!({ name: 'vpn', kind: 'openvpn_kill' }), [{ key: 'port', message: 'give the management port (or socket)' }]);
    assert.equal(openvpnKill.check!({ ...ok, port: 7505 })[0]?.key, 'socket');
    assert.equal(openvpnKill.check!({ ...ok, socket: 'rel.sock' })[0]?.key, 'socket');
    assert.deepEqual(openvpnKill.check!({ name: 'vpn', kind: 'openvpn_kill', port: 7505 }), []);
  });

  test('status 3 rows are read by their header', () => {
    const rows = parseStatus3([
      'TITLE\tOpenVPN 2.6.14',
      'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher',
      'CLIENT_LIST\tclient2\t10.200.1.2:47400\t10.8.0.3\t\t2435\t2325\t2026-11-27 20:33:09\t1795811589\tUNDEF\t1\t1\tAES-256-GCM',
      'CLIENT_LIST\tlaptop\t10.200.0.2:51371\t10.8.0.2\t\t2433\t2326\t2026-11-27 20:33:09\t1795811589\talice\t0\t0\tAES-256-GCM',
      'HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)',
      'ROUTING_TABLE\t10.8.0.2\tlaptop\t10.200.0.2:51371\t2026-11-27 20:33:10\t1795811590',
    ]);
    assert.deepEqual(rows, [
      { common_name: 'client2', address: '10.200.1.2:47400', username: null, client_id: '1' },
      { common_name: 'laptop', address: '10.200.0.2:51371', username: 'alice', client_id: '0' },
    ]);
  });

  test('hostile or missing input is refused before connecting', async () => {
    // Nothing listens on this socket: a refusal that connected first would be a retryable transport error.
    const t = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', socket: '/nonexistent/fido-mgmt.sock' }, { configDir: '.', publicUrl: '' });
    await assert.rejects(t.execute(ctx({}, { user: 'alice\nsignal SIGTERM' })), isPermanent(/refusing user "alice\\nsignal SIGTERM"/));
    await assert.rejects(t.execute(ctx({ common_name: 'a b' })), isPermanent(/refusing common name/));
    await assert.rejects(t.execute(ctx({ common_name: 'x\r\nkill y' })), isPermanent(/refusing common name/));
    await assert.rejects(t.execute(ctx({ common_name: 'a\\ b' })), isPermanent(/refusing common name/));
    await assert.rejects(t.execute(ctx({ common_name: '"x"' })), isPermanent(/refusing common name/));
    await assert.rejects(t.execute(ctx({ common_name: '10.0.0.1:5' })), isPermanent(/refusing common name/));
    await assert.rejects(t.execute(ctx({ address: '10.0.0.1:1\nsignal SIGTERM' })), isPermanent(/refusing address/));
    await assert.rejects(t.execute(ctx({ address: '999.0.0.1:1' })), isPermanent(/refusing address/));
    await assert.rejects(t.execute(ctx({}, { user: null })), isPermanent(/nothing to act on/));
    // A well-formed one does try to connect: retryable.
    await assert.rejects(t.execute(ctx({ common_name: 'bob' })), (e: unknown) => e instanceof ActionError && e.retryable && /ENOENT/.test(e.message));
  });
});

describe('openvpn_kill against a real OpenVPN server', () => {
  let srv: OpenvpnServer;
  let target: ActionTarget;
  const PASSWORD = 'mgmt-pass-4711';

  before(async () => {
    // Provisioned by .ci/run (openvpn, openssl, iproute2, root with /dev/net/tun): never skipped.
    const missing = openvpnUnavailable();
    if (missing) throw new Error(`cannot test against a real OpenVPN server: ${missing}`);
    process.env.FIDO_TEST_OVPN_PASSWORD = PASSWORD;
    srv = await startOpenvpnServer({
      password: PASSWORD,
      clients: [{ cn: 'laptop-7', username: 'alice' }, { cn: 'bob' }, { cn: 'carol' }],
    });
    target = await openvpnKill.create(
      { name: 'vpn', kind: 'openvpn_kill', socket: srv.socket, password: '${env:FIDO_TEST_OVPN_PASSWORD}', timeout: '3s' },
      { configDir: '.', publicUrl: '' },
    );
  });
  after(async () => {
    await target?.close?.();
    await srv?.close();
    delete process.env.FIDO_TEST_OVPN_PASSWORD;
  });

  test('kill by common name: the session is gone from status, the others stay', async () => {
    const out = await target.execute(ctx({ common_name: 'bob' }));
    assert.equal(out.detail.by, 'common_name');
    assert.deepEqual(out.detail.killed, [{ common_name: 'bob', reply: "common name 'bob' found, 1 client(s) killed" }]);
    const left = (await srv.sessions()).map((s) => s.cn).sort();
    assert.deepEqual(left, ['carol', 'laptop-7']);
  });

  test('"not found": final on a first attempt, done on a retry (the earlier attempt killed it)', async () => {
    await assert.rejects(target.execute(ctx({ common_name: 'bob' })), isPermanent(/common name 'bob' not found/));
    // A retry after attempts that never reached the server (refused connections): still no such session.
    await assert.rejects(target.execute(ctx({ common_name: 'bob' }, { attempts: 3 })), isPermanent(/common name 'bob' not found/));
    const again = await target.execute(ctx({ common_name: 'bob' }, { attempts: 2, resumed: true }));
    assert.equal(again.detail.already_gone, true);
    assert.deepEqual(again.detail.killed, []);
  });

  test("no params: the incident user's session, found by its Username, is killed by address", async () => {
    const before = await srv.sessions();
    const alice = before.find((s) => s.username === 'alice')!;
    const out = await target.execute(ctx({}, { user: 'Alice' }));
    assert.equal(out.detail.by, 'user');
    assert.deepEqual(out.detail.killed, [{ common_name: 'laptop-7', address: alice.address, reply: `1 client(s) at address ${alice.address} killed` }]);
    assert.deepEqual((await srv.sessions()).map((s) => s.cn), ['carol']);
    // The user has no session left.
    await assert.rejects(target.execute(ctx({}, { user: 'alice' })), isPermanent(/no VPN session of user alice/));
  });

  test('params.user matches a common name too; nothing hostile was ever sent', async () => {
    const out = await target.execute(ctx({ user: 'carol' }, { user: 'alice' }));
    assert.deepEqual((out.detail.killed as Array<{ common_name: string }>).map((k) => k.common_name), ['carol']);
    assert.deepEqual(await srv.sessions(), []);
    const commands = srv.log().split('\n').filter((l) => l.includes('MANAGEMENT: CMD')).map((l) => l.replace(/^.*MANAGEMENT: CMD /, ''));
    assert.ok(commands.length > 0);
    for (const c of commands) assert.match(c, /^'(status 3|kill [A-Za-z0-9.:-]+|quit)'$/, c);
  });

  test('a wrong management password is a permanent error that does not show the password', async () => {
    const wrong = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', socket: srv.socket, password: 'not-the-password', timeout: '3s' }, { configDir: '.', publicUrl: '' });
    await assert.rejects(wrong.execute(ctx({ common_name: 'carol' })), (e: unknown) => isPermanent(/refused the password/)(e) && !/not-the-password/.test((e as Error).message));
    const none = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', socket: srv.socket, timeout: '3s' }, { configDir: '.', publicUrl: '' });
    await assert.rejects(none.execute(ctx({ common_name: 'carol' })), isPermanent(/asks for a password and none is configured/));
  });
});

describe('openvpn_kill over TCP', () => {
  test('password accepted over TCP; a daemon that cannot kill (not a server) is a permanent error', async () => {
    const held = await startOpenvpnHold({ password: 'tcp-pass' });
    try {
      const t = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', host: '127.0.0.1', port: held.port, password: 'tcp-pass', timeout: '3s' }, { configDir: '.', publicUrl: '' });
      await assert.rejects(t.execute(ctx({ common_name: 'bob' })), isPermanent(/kill: The 'kill' command is not supported/));
      const bad = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', port: held.port, password: 'nope', timeout: '3s' }, { configDir: '.', publicUrl: '' });
      await assert.rejects(bad.execute(ctx({ common_name: 'bob' })), isPermanent(/refused the password/));
    } finally {
      await held.close();
    }
  });

  test('a management interface that never greets (busy with another client) ends at the timeout, retryable', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const t = await openvpnKill.create({ name: 'vpn', kind: 'openvpn_kill', port, timeout: '200ms' }, { configDir: '.', publicUrl: '' });
      await assert.rejects(t.execute(ctx({ common_name: 'bob' })), (e: unknown) => e instanceof ActionError && e.retryable && /no answer before the timeout/.test(e.message));
    } finally {
      silent.close();
    }
  });
});
