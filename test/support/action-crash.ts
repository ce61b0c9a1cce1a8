/**
 * Fixtures for the actions crash test (test/e2e/actions-crash.test.ts): one entry per action kind, each a real
 * target — a contract stand-in served from the test process (test/support/contracts/), a real program, a real
 * slapd, real nftables in a network namespace, a real OpenVPN server — with what it takes to configure it in
 * fido.yaml and to count, afterwards, what it did to each object: `effects` are the state changes the target
 * made (a host isolated, a user suspended, a ticket opened), `raw` the state-changing calls it received (a
 * repeat is allowed when the earlier one changed nothing), both in one vocabulary ("suspend <user id>").
 * Adding a kind is one entry in FIXTURES: a factory that starts its target and returns a KindFixture (or
 * `{ skipped: why }` when this machine cannot run it).
 *
 * Every stand-in answers slowly (100–400 ms, drawn from the test's seed), half the time after applying the
 * call and half the time before, so that a SIGKILL lands while calls are in flight, some of them already
 * applied: the executor must then reconcile (or repeat harmlessly) rather than act twice. `inFlight()` names
 * the state-changing calls applied and not yet answered, the ones a kill turns into an unknown outcome.
 * Real servers (slapd, OpenVPN) sit behind a proxy that delays their answers the same way.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { startContract, type ContractHandler, type ContractReply, type ContractRequest, type ContractServer } from './contract.js';
import { oktaServer } from './contracts/okta_suspend.js';
import { entraServer } from './contracts/entra_disable.js';
import { falconServer } from './contracts/crowdstrike_contain.js';
import { s1Server } from './contracts/sentinelone_isolate.js';
import { mdeServer } from './contracts/defender_isolate.js';
import { FakePanos } from './contracts/panos_dag.js';
import { FakeFortiGate } from './contracts/fortigate_address.js';
import { startSlapd } from './slapd.js';
import { createNetnsPair, netnsProblem } from './netns.js';
import { servicenowServer } from './contracts/servicenow.js';
import { jiraServer, paragraphs } from './contracts/jira.js';
import { pagerDutyStandIn } from './contracts/pagerduty.js';
import { openvpnUnavailable, startOpenvpnServer } from './openvpn.js';

/** The incidents' subjects: incident i is about host ws-10i, user crashuser<i>, outside address 93.184.216.(10+i). */
export interface Subject {
  host: string;
  user: string;
  src: string;
  dst: string;
}

export function subjects(n: number): Subject[] {
  return Array.from({ length: n }, (_, i) => ({ host: `ws-${100 + i}`, user: `crashuser${i}`, src: `10.77.0.${10 + i}`, dst: `93.184.216.${10 + i}` }));
}

export interface FixtureContext {
  dir: string;
  subjects: Subject[];
  /** Seeded, in [0, 1). */
  random: () => number;
}

export interface KindFixture {
  kind: string;
  /** The target's name in fido.yaml (also the policy rule's `action`). */
  name: string;
  /** The target's entry, one YAML flow mapping. */
  yaml: string;
  /** Environment the entry's secret references need. */
  env: Record<string, string>;
  /** What must have happened once for action `a` (on subject `s`, the i-th), in the `effects()` vocabulary. */
  expected(s: Subject, i: number, a: { key: string; incident: string }): string;
  /** The state changes the target made, one entry each (`incidents`: the ids of the incidents the run made). */
  effects(incidents: readonly string[]): string[];
  /** The state-changing calls it received (an object per call: repeats show as duplicates). */
  raw(): string[];
  /** State-changing calls applied and not yet answered (a kill now leaves them unknown to Fido). */
  inFlight(): string[];
  /** Whether the kind asks its target (reconcile) after an unknown outcome. */
  reconciles: boolean;
  /**
   * Whether its reconcile finds the action done once the call in `inFlight()` was applied (Entra's does not
   * while sessions are to be revoked too: the retry finds the account disabled and revokes them).
   */
  reconcileSeesEffect: boolean;
  /**
   * Kinds that record the object's state before they act, for a faithful undo: the result's field and the
   * value every subject had (none was changed before Fido acted), which a crash must not lose.
   */
  prior?: { key: string; value: unknown };
  /** The change that undoing action `a` (subject `s`, the i-th) makes, in the `effects()` vocabulary. */
  reverse?(s: Subject, i: number): string;
  /** For a kind whose effects() cannot show an undo: the objects still changed (none once every action is undone). */
  stillChanged?(): string[];
  close(): Promise<void>;
}

export type FixtureFactory = (c: FixtureContext) => Promise<KindFixture | { skipped: string }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A contract server whose answers take 100–400 ms. `mutation(r)` names the object a state-changing request
 * acts on (null for reads): those are counted as raw calls and, while applied but unanswered, as in flight.
 */
async function slowContract(handle: ContractHandler, random: () => number, mutation: (r: ContractRequest) => string | null) {
  const raw: string[] = [];
  const pending = new Map<ContractRequest, string>();
  const server = await startContract(async (r, n): Promise<ContractReply> => {
    const delay = 100 + Math.floor(random() * 300);
    const object = mutation(r);
    if (random() < 0.5) {
      await sleep(delay);
      if (object) raw.push(object);
      return handle(r, n);
    }
    if (object) raw.push(object);
    const out = await handle(r, n);
    if (object) pending.set(r, object);
    await sleep(delay);
    pending.delete(r);
    return out;
  });
  return { server, raw, inFlight: () => [...pending.values()] };
}

function contractFixture(
  base: Pick<KindFixture, 'kind' | 'name' | 'reconciles' | 'reconcileSeesEffect' | 'env' | 'expected' | 'prior' | 'reverse'>,
  slow: { server: ContractServer; raw: string[]; inFlight: () => string[] },
  yaml: (url: string) => string,
  effects: KindFixture['effects'],
): KindFixture {
  return { ...base, yaml: yaml(slow.server.url), effects, raw: () => slow.raw, inFlight: slow.inFlight, close: () => slow.server.close() };
}

const okta: FixtureFactory = async ({ subjects: ss, random }) => {
  const token = 'crash-okta-token-0123456789';
  const s = oktaServer(token);
  ss.forEach((x, i) => s.add(`00ucrash${i}`, `${x.user}@corp.example`));
  const slow = await slowContract(s.handler, random, (r) => (r.method === 'POST' && r.path.endsWith('/lifecycle/suspend') ? `suspend ${r.path.split('/')[4]}` : null));
  return contractFixture(
    { kind: 'okta_suspend', name: 'okta', reconciles: true, reconcileSeesEffect: true, env: { CRASH_OKTA: token }, expected: (_s, i) => `suspend 00ucrash${i}`, prior: { key: 'was', value: 'ACTIVE' }, reverse: (_s, i) => `unsuspend 00ucrash${i}` },
    slow,
    (url) => `{ name: okta, kind: okta_suspend, url: "${url}", api_token: "\${env:CRASH_OKTA}", allow_private: true, login_suffix: corp.example, revoke_sessions: false }`,
    () => s.effects,
  );
};

const entra: FixtureFactory = async ({ subjects: ss, random }) => {
  const creds = { tenant: 'crash.onmicrosoft.com', client: '11111111-2222-3333-4444-000000000000', secret: 'crash-entra-secret~0123' };
  const s = entraServer(creds);
  const id = (i: number) => `0000000${i}-cccc-cccc-cccc-cccccccccccc`;
  ss.forEach((x, i) => s.add(id(i), `${x.user}@contoso.com`));
  const slow = await slowContract(s.handler, random, (r) => (r.method === 'PATCH' ? `disable ${decodeURIComponent(r.path.split('/')[3]!)}` : null));
  return contractFixture(
    { kind: 'entra_disable', name: 'entra', reconciles: true, reconcileSeesEffect: false, env: { CRASH_ENTRA: creds.secret }, expected: (_s, i) => `disable ${id(i)}`, prior: { key: 'was_enabled', value: true }, reverse: (_s, i) => `enable ${id(i)}` },
    slow,
    (url) =>
      `{ name: entra, kind: entra_disable, tenant_id: ${creds.tenant}, client_id: "${creds.client}", client_secret: "\${env:CRASH_ENTRA}", url: "${url}", token_url: "${url}/${creds.tenant}/oauth2/v2.0/token", allow_private: true, login_suffix: contoso.com }`,
    () => s.effects,
  );
};

const crowdstrike: FixtureFactory = async ({ subjects: ss, random }) => {
  const secret = 'crash-falcon-secret-0123';
  const s = await falconServer({ clientId: 'crash-cid', secret, devices: ss.map((x, i) => [`aidcrash${i}`, x.host]) });
  // The stand-in serves itself; the slow front forwards to it (its requests are the ones that reached Falcon).
  const slow = await slowContract((r) => forward(s.url, r), random, (r) =>
    r.method === 'POST' && r.path === '/devices/entities/devices-actions/v2' ? `${r.query.get('action_name')} ${String((r.json as { ids?: string[] }).ids?.[0])}` : null,
  );
  return {
    ...contractFixture(
      { kind: 'crowdstrike_contain', name: 'falcon', reconciles: true, reconcileSeesEffect: true, env: { CRASH_FALCON: secret }, expected: (_s, i) => `contain aidcrash${i}`, prior: { key: 'already', value: false }, reverse: (_s, i) => `lift_containment aidcrash${i}` },
      slow,
      (url) => `{ name: falcon, kind: crowdstrike_contain, url: "${url}", allow_private: true, client_id: crash-cid, client_secret: "\${env:CRASH_FALCON}" }`,
      () => s.effects,
    ),
    close: async () => {
      await slow.server.close();
      await s.close();
    },
  };
};

const sentinelone: FixtureFactory = async ({ subjects: ss, random }) => {
  const token = 'crash-s1-api-token-0123';
  const s = await s1Server({ token, agents: ss.map((x, i) => [`s1crash${i}`, x.host, x.src]) });
  const slow = await slowContract((r) => forward(s.url, r), random, (r) =>
    r.method === 'POST' && r.path.endsWith('/agents/actions/disconnect') ? `disconnect ${String((r.json as { filter?: { ids?: string[] } }).filter?.ids?.[0])}` : null,
  );
  return {
    ...contractFixture(
      { kind: 'sentinelone_isolate', name: 's1', reconciles: true, reconcileSeesEffect: true, env: { CRASH_S1: token }, expected: (_s, i) => `disconnect s1crash${i}`, prior: { key: 'already', value: false }, reverse: (_s, i) => `connect s1crash${i}` },
      slow,
      (url) => `{ name: s1, kind: sentinelone_isolate, url: "${url}", allow_private: true, api_token: "\${env:CRASH_S1}" }`,
      () => s.effects,
    ),
    close: async () => {
      await slow.server.close();
      await s.close();
    },
  };
};

const defender: FixtureFactory = async ({ subjects: ss, random }) => {
  const secret = 'crash~mde~secret~0123';
  const s = await mdeServer({ tenant: 'tenant-crash', clientId: 'crash-app', secret, machines: ss.map((x, i) => [`mdecrash${i}`, `${x.host}.corp.example`, x.src]) });
  const slow = await slowContract((r) => forward(s.url, r), random, (r) => (r.method === 'POST' && r.path.endsWith('/isolate') ? `isolate ${decodeURIComponent(r.path.split('/')[3]!)}` : null));
  return {
    ...contractFixture(
      { kind: 'defender_isolate', name: 'mde', reconciles: true, reconcileSeesEffect: true, env: { CRASH_MDE: secret }, expected: (_s, i) => `isolate mdecrash${i}`, prior: { key: 'already', value: false }, reverse: (_s, i) => `unisolate mdecrash${i}` },
      slow,
      (url) =>
        `{ name: mde, kind: defender_isolate, url: "${url}", token_url: "${url}/tenant-crash/oauth2/v2.0/token", allow_private: true, tenant_id: tenant-crash, client_id: crash-app, client_secret: "\${env:CRASH_MDE}" }`,
      () => s.effects,
    ),
    close: async () => {
      await slow.server.close();
      await s.close();
    },
  };
};

const panos: FixtureFactory = async ({ random }) => {
  const key = 'LUFRPT1-crash-panos-key-0123456789';
  const fw = new FakePanos(key);
  const slow = await slowContract(fw.handle, random, (r) => {
    const m = /<register><entry ip="([^"]+)"/.exec(r.form.get('cmd') ?? '');
    return r.query.get('type') === 'user-id' && m ? `register ${m[1]} fido-block` : null;
  });
  return contractFixture(
    { kind: 'panos_dag', name: 'pa', reconciles: true, reconcileSeesEffect: true, env: { CRASH_PANOS: key }, expected: (s) => `register ${s.dst} fido-block` },
    slow,
    (url) => `{ name: pa, kind: panos_dag, url: "${url}", api_key: "\${env:CRASH_PANOS}", tag: fido-block, allow_private: true }`,
    () => fw.effects,
  );
};

const fortigate: FixtureFactory = async ({ random }) => {
  const token = 'crash-fgt-token-0123456789abcdef';
  const fgt = new FakeFortiGate(token);
  const slow = await slowContract(fgt.handle, random, (r) =>
    r.method === 'POST' && r.path.endsWith('/member') ? `add ${r.path.split('/')[6]} ${String((r.json as { name?: string } | undefined)?.name)}` : null,
  );
  return contractFixture(
    { kind: 'fortigate_address', name: 'fgt', reconciles: true, reconcileSeesEffect: true, env: { CRASH_FGT: token }, expected: (s) => `add fido-blocked fido-${s.dst}` },
    slow,
    (url) => `{ name: fgt, kind: fortigate_address, url: "${url}", api_token: "\${env:CRASH_FGT}", group: fido-blocked, vdom: root, allow_private: true }`,
    () => fgt.effects,
  );
};

/**
 * run_program: a script that sleeps, and applies its effect before or after (by the key's parity), keyed by
 * the idempotency key: every call is appended to calls.log; the effect is a marker file made with O_EXCL, so a
 * repeat with the same key changes nothing, and effects.log lists each marker made.
 */
const runProgram: FixtureFactory = async ({ dir }) => {
  const bin = join(dir, 'bin');
  const out = join(dir, 'program');
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(out, 'done'), { recursive: true });
  const script = join(bin, 'contain.mjs');
  writeFileSync(
    script,
    `#!${process.execPath}
import { appendFileSync, openSync, closeSync, writeFileSync, rmSync } from 'node:fs';
let input = '';
for await (const c of process.stdin) input += c;
const key = JSON.parse(input).idempotency_key;
const out = process.env.OUT;
const flight = out + '/flight-' + process.pid;
const delay = () => new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 300)));
const effect = () => {
  appendFileSync(out + '/calls.log', key + '\\n');
  try {
    closeSync(openSync(out + '/done/' + encodeURIComponent(key), 'wx'));
    appendFileSync(out + '/effects.log', key + '\\n');
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
  }
};
if (Math.random() < 0.5) { await delay(); effect(); }
else { effect(); writeFileSync(flight, key); await delay(); rmSync(flight); }
process.stdout.write(JSON.stringify({ key }));
`,
  );
  chmodSync(script, 0o755);
  const lines = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean) : []);
  return {
    kind: 'run_program',
    name: 'prog',
    reconciles: false,
    reconcileSeesEffect: false,
    yaml: `{ name: prog, kind: run_program, allowed_paths: ["${bin}/"], path: "${script}", env: { OUT: "${out}" }, timeout: 10s }`,
    env: {},
    expected: (_s, _i, a) => a.key,
    effects: () => lines('effects.log'),
    raw: () => lines('calls.log'),
    // The program's own process outlives a kill of Fido only briefly (its group is Fido's child's).
    inFlight: () => readdirSync(out).filter((f) => f.startsWith('flight-')).map((f) => readFileSync(join(out, f), 'utf8')),
    close: async () => undefined,
  };
};

/**
 * ldap_account against a real slapd, through a proxy that delays the directory's answers (so kills land
 * between a write and its answer) and reads the LDAP messages going by: each ModifyRequest is a raw call, each
 * ModifyResponse with resultCode 0 an effect. (A second lock of a locked account fails in the directory: the
 * write is conditional, so it shows as a raw repeat and no effect.) The final state is checked too.
 */
const ldap: FixtureFactory = async ({ subjects: ss, random }) => {
  if (!existsSync('/usr/sbin/slapd')) return { skipped: 'slapd is not installed' };
  const SUFFIX = 'dc=example,dc=test';
  const disabler = `cn=fido-crash-disabler,ou=services,${SUFFIX}`;
  const people = `ou=people,${SUFFIX}`;
  const ldif = [
    `dn: ${disabler}\nchangetype: add\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: fido-crash-disabler\nuserPassword: crash-disabler-pw\n`,
    ...ss.map((x) => `dn: uid=${x.user},${people}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: ${x.user}\ncn: ${x.user}\nsn: ${x.user}\nuserPassword: ${x.user}pw\n`),
  ].join('\n');
  const slapd = await startSlapd(ldif, { acl: [`access to attrs=pwdAccountLockedTime by dn.exact="${disabler}" write by users read by * none`] });
  const raw: string[] = [];
  const effects: string[] = [];
  const uid = (dn: string) => /^uid=([^,]+),/.exec(dn)?.[1] ?? dn;
  const proxy = await delayProxy({ port: Number(new URL(slapd.url).port) }, random, () => {
    const modifies = new Map<number, string>();
    return {
      up: (m) => {
        if (m.op === 0x66) {
          modifies.set(m.id, m.dn);
          raw.push(`lock ${uid(m.dn)}`);
        }
      },
      down: (m) => {
        const dn = modifies.get(m.id);
        if (m.op === 0x67 && dn !== undefined && m.resultCode === 0) effects.push(`lock ${uid(dn)}`);
      },
    };
  });
  const locked = () => {
    const outText = execFileSync('ldapsearch', ['-x', '-H', slapd.url, '-D', slapd.adminDn, '-w', slapd.adminPassword, '-b', people, '-LLL', '(&(uid=crashuser*)(pwdAccountLockedTime=*))', 'uid'], { encoding: 'utf8' });
    return outText.split('\n').filter((l) => l.startsWith('uid: ')).map((l) => `lock ${l.slice(5)}`);
  };
  return {
    kind: 'ldap_account',
    name: 'ldap',
    reconciles: false,
    reconcileSeesEffect: false,
    yaml: `{ name: ldap, kind: ldap_account, url: "ldap://127.0.0.1:${proxy.port}", bind_dn: "${disabler}", bind_password: "\${env:CRASH_LDAP}", base_dn: "${people}" }`,
    env: { CRASH_LDAP: 'crash-disabler-pw' },
    expected: (s) => `lock ${s.user}`,
    prior: { key: 'disabled_before', value: false },
    stillChanged: locked,
    effects: () => {
      const state = locked().sort();
      // The directory's final state and the answers on the wire must tell the same story.
      if (JSON.stringify(state) !== JSON.stringify([...effects].sort())) return [...effects, `final state: ${state.join(', ')}`];
      return effects;
    },
    raw: () => raw,
    inFlight: () => [],
    close: async () => {
      await proxy.close();
      await slapd.stop();
    },
  };
};

/**
 * openvpn_kill against a real OpenVPN server with one real client per incident user (the common name), through
 * a proxy on its management socket that delays the server's answers and reads the lines going by: each
 * `kill <address>` is a raw call, each `SUCCESS: … killed` answer an effect (its session's common name).
 * The clients do not reconnect within the test (keepalive 10 120), so a session killed twice would show.
 */
const openvpn: FixtureFactory = async ({ dir, subjects: ss, random }) => {
  const why = openvpnUnavailable();
  if (why) return { skipped: why };
  const srv = await startOpenvpnServer({ clients: ss.map((x) => ({ cn: x.user })) });
  const cnByAddress = new Map((await srv.sessions()).map((x) => [x.address, x.cn]));
  const raw: string[] = [];
  const effects: string[] = [];
  const sock = join(dir, 'ovpn-mgmt.sock');
  const proxy = await delayProxy({ path: srv.socket, listen: sock }, random, () => ({
    upText: (line) => {
      if (line.startsWith('kill ')) raw.push(`kill ${cnByAddress.get(line.slice(5)) ?? line.slice(5)}`);
    },
    downText: (line) => {
      const address = line.startsWith('SUCCESS:') && line.includes(' killed') ? /\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}/.exec(line)?.[0] : undefined;
      if (address) effects.push(`kill ${cnByAddress.get(address) ?? address}`);
    },
  }));
  return {
    kind: 'openvpn_kill',
    name: 'vpn',
    reconciles: false,
    reconcileSeesEffect: false,
    yaml: `{ name: vpn, kind: openvpn_kill, socket: "${sock}", timeout: 20s }`,
    env: {},
    expected: (s) => `kill ${s.user}`,
    effects: () => effects,
    raw: () => raw,
    inFlight: () => [],
    close: async () => {
      await proxy.close();
      await srv.close();
    },
  };
};

/**
 * nftables_block against real nftables in a throw-away network namespace. nft runs through a wrapper that logs
 * each call and is slow (before and after the real nft), so kills land mid-call. `add element` of an element
 * already there changes nothing (not even its timeout), so effects are read from the set's final state.
 */
const nftables: FixtureFactory = async ({ dir }) => {
  const why = netnsProblem();
  if (why) return { skipped: why };
  const pair = await createNetnsPair();
  pair.nft(['-f', '-'], 'table inet fidocrash {\n  set blocked4 { type ipv4_addr; flags timeout; }\n  set blocked6 { type ipv6_addr; flags timeout; }\n}\n');
  const log = join(dir, 'nft-calls.log');
  const wrapper = join(dir, 'nft-logged');
  writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\nsleep 0.1\n/usr/sbin/nft "$@"\ns=$?\nsleep 0.2\nexit $s\n`);
  chmodSync(wrapper, 0o755);
  const elements = () => {
    const j = JSON.parse(pair.nft(['-j', 'list', 'set', 'inet', 'fidocrash', 'blocked4'])) as { nftables: Array<{ set?: { elem?: Array<{ elem: { val: string } } | string> } }> };
    return (j.nftables.find((x) => x.set)?.set?.elem ?? []).map((e) => `block ${typeof e === 'string' ? e : e.elem.val}`);
  };
  return {
    kind: 'nftables_block',
    name: 'nft',
    reconciles: false,
    reconcileSeesEffect: false,
    yaml: `{ name: nft, kind: nftables_block, table: fidocrash, set4: blocked4, set6: blocked6, netns: ${pair.srv}, nft_path: "${wrapper}", timeout: 1h }`,
    env: {},
    expected: (s) => `block ${s.dst}`,
    effects: elements,
    raw: () =>
      (existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [])
        .filter((l) => l.includes('"add"'))
        .map((l) => `block ${/"val": ?"([^"]+)"/.exec(l)?.[1] ?? l}`),
    inFlight: () => [],
    close: () => pair.close(),
  };
};

/** The Fido incident a ticket's create call names ("Incident: <id>" in its description, whatever the format). */
const incidentNamed = (r: ContractRequest) => /Incident: ([0-9A-Z]{26})/.exec(r.body)?.[1] ?? '?';

/** Tickets: one record per incident; the kind finds an earlier attempt's record by its correlation id. */
const servicenow: FixtureFactory = async ({ random }) => {
  const s = servicenowServer({ user: 'svc_crash', password: 'crash-snow-pass-0123' });
  const slow = await slowContract(s.handler, random, (r) => (r.method === 'POST' ? `ticket ${incidentNamed(r)}` : null));
  return contractFixture(
    { kind: 'servicenow_ticket', name: 'snow', reconciles: true, reconcileSeesEffect: true, env: { CRASH_SNOW: 'crash-snow-pass-0123' }, expected: (_s, _i, a) => `ticket ${a.incident}` },
    slow,
    (url) => `{ name: snow, kind: servicenow_ticket, url: "${url}", username: svc_crash, password: "\${env:CRASH_SNOW}", allow_private: true }`,
    (incidents) => ticketsOf(incidents, s.records.size, (id) => s.byIncident(id).length, 'ticket'),
  );
};

const jira: FixtureFactory = async ({ random }) => {
  const s = jiraServer({ email: 'fido-crash@corp.example', token: 'crash-jira-token-0123' });
  // The description is a document (ADF): the incident's line is a paragraph of text nodes.
  const named = (r: ContractRequest) =>
    paragraphs((r.json as { fields?: { description?: unknown } } | undefined)?.fields?.description).find((p) => p.startsWith('Incident: '))?.slice(10) ?? '?';
  const slow = await slowContract(s.handler, random, (r) => (r.method === 'POST' && r.path === '/rest/api/3/issue' ? `issue ${named(r)}` : null));
  return contractFixture(
    { kind: 'jira_ticket', name: 'jira', reconciles: true, reconcileSeesEffect: true, env: { CRASH_JIRA: 'crash-jira-token-0123' }, expected: (_s, _i, a) => `issue ${a.incident}` },
    slow,
    (url) => `{ name: jira, kind: jira_ticket, url: "${url}", email: fido-crash@corp.example, api_token: "\${env:CRASH_JIRA}", project: SEC, allow_private: true }`,
    (incidents) => ticketsOf(incidents, s.issues.size, (id) => s.byIncident(id).length, 'issue'),
  );
};

/** A PagerDuty alert per dedup key (fido-<incident>): a repeated trigger while it is open updates it, opens nothing. */
const pagerduty: FixtureFactory = async ({ random }) => {
  const s = pagerDutyStandIn();
  const slow = await slowContract(s.handler, random, (r) =>
    r.method === 'POST' && (r.json as { event_action?: string } | undefined)?.event_action === 'trigger' ? `alert ${String((r.json as { dedup_key?: string }).dedup_key)}` : null,
  );
  return contractFixture(
    { kind: 'pagerduty', name: 'pd', reconciles: false, reconcileSeesEffect: false, env: { CRASH_PD: s.routingKey }, expected: (_s, _i, a) => `alert fido-${a.incident}` },
    slow,
    (url) => `{ name: pd, kind: pagerduty, routing_key: "\${env:CRASH_PD}", events_url: "${url}/v2/enqueue", allow_private: true }`,
    () => [...s.closed.map((a) => `alert ${a.dedup_key}`), ...[...s.alerts.keys()].map((k) => `alert ${k}`)],
  );
};

/** `noun <incident>` per ticket found for each incident, and one `noun for no incident` per ticket left over. */
function ticketsOf(incidents: readonly string[], total: number, count: (incident: string) => number, noun: string): string[] {
  const named = incidents.flatMap((id) => Array.from({ length: count(id) }, () => `${noun} ${id}`));
  return [...named, ...Array.from({ length: total - named.length }, () => `${noun} for no incident`)];
}

/** Every kind the crash test drives, in the order of the policy rule's `then`. */
export const FIXTURES: FixtureFactory[] = [okta, entra, crowdstrike, sentinelone, defender, panos, fortigate, runProgram, ldap, nftables, openvpn, servicenow, jira, pagerduty];

/** Passes a request on to a stand-in that serves itself (the EDR ones start their own server). */
async function forward(base: string, r: ContractRequest): Promise<ContractReply> {
  const query = r.query.toString();
  const res = await fetch(`${base}${r.path}${query ? `?${query}` : ''}`, {
    method: r.method,
    headers: Object.fromEntries(Object.entries(r.headers).filter(([k, v]) => typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
    ...(r.method === 'GET' || r.method === 'HEAD' ? {} : { body: r.body }),
  });
  const body = await res.text();
  return { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' }, body };
}

/** An LDAP message as the proxy reads it: its id, its protocolOp's tag, a request's DN, a response's result code. */
interface LdapMessage {
  id: number;
  op: number;
  dn: string;
  resultCode: number | undefined;
}

interface ProxyWatch {
  up?(m: LdapMessage): void;
  down?(m: LdapMessage): void;
  upText?(line: string): void;
  downText?(line: string): void;
}

/**
 * A TCP or unix-socket proxy that passes the client's bytes on at once and the server's after 100–300 ms each
 * chunk (in order), so that a kill of the client can fall after the server acted and before its answer
 * arrived. `watch()` (one per connection) sees the LDAP messages (`up`/`down`) or text lines going by.
 */
async function delayProxy(to: { port: number } | { path: string; listen: string }, random: () => number, watch: () => ProxyWatch) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const w = watch();
    const upstream = 'port' in to ? connect(to.port, '127.0.0.1') : connect(to.path);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const upLdap = ldapReader((m) => w.up?.(m));
    const downLdap = ldapReader((m) => w.down?.(m));
    const upLines = lineReader((l) => w.upText?.(l));
    const downLines = lineReader((l) => w.downText?.(l));
    client.on('data', (d: Buffer) => {
      if (w.up) upLdap(d);
      if (w.upText) upLines(d);
      upstream.write(d);
    });
    let chain = Promise.resolve();
    upstream.on('data', (d: Buffer) => {
      chain = chain.then(async () => {
        await sleep(100 + Math.floor(random() * 200));
        if (w.down) downLdap(d);
        if (w.downText) downLines(d);
        if (!client.destroyed) client.write(d);
      });
    });
  });
  await new Promise<void>((r) => ('port' in to ? server.listen(0, '127.0.0.1', r) : server.listen(to.listen, r)));
  return {
    port: 'port' in to ? (server.address() as AddressInfo).port : 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function lineReader(each: (line: string) => void): (d: Buffer) => void {
  let buf = '';
  return (d) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      each(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  };
}

/** Reads BER-encoded LDAPMessages (RFC 4511 §4.1.1) from a byte stream, as much as it needs of each. */
function ldapReader(each: (m: LdapMessage) => void): (d: Buffer) => void {
  let buf = Buffer.alloc(0);
  const tlv = (b: Buffer, at: number): { tag: number; start: number; end: number } | null => {
    if (at + 2 > b.length) return null;
    let len = b[at + 1]!;
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (start + n > b.length) return null;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
      start += n;
    }
    return { tag: b[at]!, start, end: start + len };
  };
  const int = (b: Buffer, t: { start: number; end: number }) => {
    let v = 0;
    for (let i = t.start; i < t.end; i++) v = v * 256 + b[i]!;
    return v;
  };
  return (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const msg = tlv(buf, 0);
      if (!msg || msg.end > buf.length) return;
      const id = tlv(buf, msg.start);
      const op = id ? tlv(buf, id.end) : null;
      if (id && op && op.end <= msg.end) {
        const first = tlv(buf, op.start);
        // A request's first field is its DN (an OCTET STRING); a response's is its resultCode (an ENUMERATED).
        const dn = first && first.tag === 0x04 ? buf.subarray(first.start, first.end).toString('utf8') : '';
        const resultCode = first && first.tag === 0x0a ? int(buf, first) : undefined;
        each({ id: int(buf, id), op: op.tag, dn, resultCode });
      }
      buf = buf.subarray(msg.end);
    }
  };
}
