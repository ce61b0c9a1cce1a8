/** Writes a complete fido.yaml for end-to-end tests: the demo's enrichment data, a real SMTP server and webhook. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_DIR = fileURLToPath(new URL('../../demo/', import.meta.url));

export interface E2eConfigOptions {
  dir: string;
  smtpPort: number;
  caFile: string;
  webhookUrl: string;
  /** Extra YAML appended under policy.rules (already indented by 4). */
  approvalForEscalate?: boolean;
  dedupWindow?: string;
  /** pipeline.cached_alerts set to 0: results must not depend on the cache. */
  withoutCaches?: boolean;
  /** pipeline.warm_up: false (a start then takes ~2 s less; for tests that start Fido many times). */
  withoutWarmUp?: boolean;
}

export function writeE2eConfig(o: E2eConfigOptions): string {
  const file = join(o.dir, 'fido.yaml');
  const d = (f: string) => JSON.stringify(join(DEMO_DIR, f));
  writeFileSync(
    file,
    `
server: { host: 127.0.0.1, port: 0 }
intake: { allow_undeclared_sources: true, max_backlog: 1000000 }
sources:
  - { name: ids, detector: suricata }
  - { name: fw, detector: auto }
correlation: { dedup_window: ${o.dedupWindow ?? '10m'}, group_window: 2h }
enrichment:
  providers:
    - { name: netsegments, kind: netsegments, file: ${d('netsegments.yaml')} }
    - { name: inventory, kind: inventory, file: ${d('inventory.csv')} }
    - { name: allowlist, kind: allowlist, file: ${d('allowlist.yaml')} }
    - { name: indicators, kind: indicators, file: ${d('indicators.csv')}, source: demo-intel }
    - { name: history, kind: history, window: 30d }
scoring: { profile: default }
policy:
  rules:
    - name: allowlisted
      when: score.components.allowlist < 0.0
      outcome: log
    - name: escalate
      when: score.total >= 75.0
      outcome: escalate
      then: [{ action: soc-mail }, { action: soar }]
      approval: ${o.approvalForEscalate ? '{ mode: required, timeout: 4h, default: deny }' : 'auto'}
    - name: notify
      when: score.total >= 40.0
      outcome: notify
      then: [{ action: soc-mail }, { action: soar }]
actions:
  max_attempts: 8
  backoff_base: 100ms
  backoff_max: 1s
  targets:
    - name: soc-mail
      kind: email
      host: 127.0.0.1
      port: ${o.smtpPort}
      tls_ca_file: ${JSON.stringify(o.caFile)}
      tls_servername: localhost
      user: fido
      password: \${env:E2E_SMTP_PASSWORD}
      from: fido@test.example
      to: [soc@test.example]
    - name: soar
      kind: webhook
      url: ${o.webhookUrl}
      secret: \${env:E2E_HOOK_SECRET}
      allow_private: true
${pipelineSection(o)}
`,
  );
  return file;
}

function pipelineSection(o: E2eConfigOptions): string {
  const settings = [...(o.withoutCaches ? ['cached_alerts: 0'] : []), ...(o.withoutWarmUp ? ['warm_up: false'] : [])];
  return settings.length ? `pipeline: { ${settings.join(', ')} }` : '';
}
