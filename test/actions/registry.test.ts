import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionKinds, closeActionTargets, createActionTargets } from '../../src/actions/registry.js';
import { parseConfigText } from '../../src/config/validate.js';

const deps = { configDir: '.', publicUrl: 'http://127.0.0.1:8700' };

test('every kind is registered and their schemas work in config validation', () => {
  assert.deepEqual(actionKinds.map((k) => k.kind).sort(), [
    'crowdstrike_contain', 'defender_isolate', 'email', 'entra_disable', 'fortigate_address', 'jira_ticket', 'ldap_account', 'nftables_block', 'okta_suspend',
    'openvpn_kill', 'pagerduty', 'panos_dag', 'run_program', 'sentinelone_isolate', 'servicenow_ticket', 'slack', 'syslog_cef', 'teams', 'webhook',
  ]);
  assert.deepEqual(actionKinds.filter((k) => k.follows).map((k) => k.kind).sort(), ['jira_ticket', 'pagerduty', 'servicenow_ticket', 'syslog_cef']);
  assert.deepEqual(actionKinds.filter((k) => k.reversible).map((k) => k.kind).sort(), ['crowdstrike_contain', 'defender_isolate', 'entra_disable', 'fortigate_address', 'ldap_account', 'nftables_block', 'okta_suspend', 'panos_dag', 'run_program', 'sentinelone_isolate', 'webhook']);
  const yaml = `
actions:
  max_attempts: 5
  targets:
    - name: soc-mail
      kind: email
      host: smtp.corp.example
      user: fido
      password: \${env:SMTP_PASSWORD}
      from: Fido <fido@corp.example>
      to: [soc@corp.example]
    - name: chatops
      kind: webhook
      url: https://hooks.corp.example/fido
      secret: \${env:HOOK_SECRET}
      headers: { Authorization: "\${env:HOOK_TOKEN}" }
      timeout: 5s
    - name: bad-mail
      kind: email
      host: smtp.corp.example
      from: x@y.z
      to: []
      verify_tls: false
    - name: bad-hook
      kind: webhook
      url: ftp://example.com/
      secret: s
`;
  const { errors } = parseConfigText(yaml, { receivers: [], providers: [], actions: actionKinds });
  const keys = errors.map((e) => `${e.key}: ${e.message}`);
  assert.ok(keys.some((k) => k.startsWith('actions.targets[2].to')), keys.join('\n'));
  assert.ok(keys.some((k) => k.startsWith('actions.targets[2].verify_tls: unknown key')), 'no silent way to turn TLS verification off');
  assert.ok(keys.some((k) => k.startsWith('actions.targets[3].url')), keys.join('\n'));
  assert.ok(!keys.some((k) => /targets\[[01]\]/.test(k)), keys.join('\n'));
});

test('createActionTargets builds targets by name and names the bad entry', async () => {
  const targets = await createActionTargets(
    [
      { name: 'hook', kind: 'webhook', url: 'https://hooks.corp.example/x', secret: 's' },
      { name: 'mail', kind: 'email', host: 'smtp.corp.example', from: 'a@corp.example', to: ['b@corp.example'] },
    ],
    deps,
  );
  assert.deepEqual([...targets.keys()], ['hook', 'mail']);
  assert.equal(targets.get('mail')!.kind, 'email');
  await closeActionTargets(targets);
  await assert.rejects(createActionTargets([{ name: 'x', kind: 'pager' }], deps), /actions\.targets\.x\.kind: unknown action kind "pager"/);
  await assert.rejects(createActionTargets([{ name: 'x', kind: 'email', host: 'h', from: 'a@b.c' }], deps), /actions\.targets\.x/);
  await assert.rejects(
    createActionTargets(
      [
        { name: 'x', kind: 'webhook', url: 'https://a.example/', secret: 's' },
        { name: 'x', kind: 'webhook', url: 'https://b.example/', secret: 's' },
      ],
      deps,
    ),
    /actions\.targets\.x: duplicate action name/,
  );
});
