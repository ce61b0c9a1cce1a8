/**
 * What the offline CLI commands read (`fido score`, `fido policy try`): a configuration, checked but with its
 * secrets left unresolved, and an incident as the JSON that GET /incidents/{id} returns, from a file or
 * standard input, with the defaults a hand-written file may leave out.
 */
import { readFileSync } from 'node:fs';
import type { IncidentDetail } from '../model/incident.js';
import type { FidoConfig } from '../config/schema.js';
import { configKinds } from '../config/load.js';
import { formatConfigErrors, parseConfigText } from '../config/validate.js';

/** Bad input to a command: reported as `fido <command>: message`, exit code 1. */
export class InputError extends Error {}

/** Reads and checks the configuration at `path` (secret references are not resolved: nothing here needs them). */
export function readConfigFile(path: string): { config: FidoConfig; text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const parsed = parseConfigText(text, configKinds);
  if (parsed.errors.length) throw new InputError(`invalid config:\n${formatConfigErrors(path, parsed.errors)}`);
  return { config: parsed.config, text };
}

/** Reads one incident from `file` ("-" or none: standard input). */
export function readIncident(file: string | undefined): IncidentDetail {
  const source = !file || file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = readFileSync(source === 'stdin' ? 0 : source, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source} is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputError(`${source}: expected one incident object`);
  const d = doc as Partial<IncidentDetail>;
  for (const key of ['alerts', 'enrichment'] as const) {
    if (d[key] !== undefined && !Array.isArray(d[key])) throw new InputError(`${source}: "${key}" must be a list`);
  }
  // The API shape has every field; a hand-written file may not. Scoring needs only these defaults.
  return {
    id: '',
    title: '',
    status: 'new',
    verdict: null,
    first_seen: '',
    last_seen: '',
    alert_count: d.alerts?.length ?? 0,
    host: null,
    user: null,
    score: null,
    decision: null,
    decisions: [],
    actions: [],
    timeline: [],
    ...d,
    alerts: d.alerts ?? [],
    enrichment: d.enrichment ?? [],
  };
}
