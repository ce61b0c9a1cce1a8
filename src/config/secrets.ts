/**
 * Secret references: `${env:NAME}` and `${file:/path}` inside any string of the config. They are resolved
 * when the config is loaded and never written back: the stored config version keeps the references only.
 */
import { readFileSync } from 'node:fs';

// No "{" in a name: a search starts at each "${", and this way it stops at the next one (linear; with [^}]+
// every "${env:" of a long run rescanned the rest).
const REF = /\$\{(env|file):([^{}]+)\}/g;

export function resolveSecretRefs(value: string, key: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(REF, (_m, kind: string, name: string) => {
    if (kind === 'env') {
      const v = env[name];
      if (v === undefined) throw new Error(`${key}: environment variable ${name} is not set`);
      return v;
    }
    try {
      return readFileSync(name, 'utf8').trim();
    } catch (e) {
      throw new Error(`${key}: cannot read secret file ${name}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  });
}

/** Deep-resolves every string; returns a new value. */
export function resolveSecretsDeep<T>(value: T, path = '', env: NodeJS.ProcessEnv = process.env): T {
  if (typeof value === 'string') return resolveSecretRefs(value, path || 'value', env) as T;
  if (Array.isArray(value)) return value.map((v, i) => resolveSecretsDeep(v, `${path}[${i}]`, env)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveSecretsDeep(v, path ? `${path}.${k}` : k, env);
    return out as T;
  }
  return value;
}

/** True when a string holds a reference rather than a literal secret. */
export function isSecretRef(value: string): boolean {
  return /^\$\{(env|file):[^}]+\}$/.test(value.trim());
}
