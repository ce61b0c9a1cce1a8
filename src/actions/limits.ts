/**
 * Rate and blast-radius limits as configured (`actions.guards.limits`), checked and in milliseconds; shared by
 * the decide stage (actions/guards.ts holdOverLimits) and config validation, so it imports no action kind.
 */
import type { Static } from 'typebox';
import type { GuardsSchema } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';

type LimitConfig = NonNullable<Static<typeof GuardsSchema>['limits']>[number];

export interface Limit {
  name: string;
  kind?: string;
  target?: string;
  rule?: string;
  max?: number;
  perMs?: number;
  maxActive?: number;
}

/** The configured limits, checked (a rate needs both `max` and `per`; a limit needs one of kind, target, rule). */
export function compileLimits(limits: readonly LimitConfig[] | undefined): Limit[] {
  return (limits ?? []).map((l, i) => {
    const at = `actions.guards.limits[${i}] (${l.name})`;
    if (!l.kind && !l.target && !l.rule) throw new Error(`${at}: say which actions it limits (kind, target or rule)`);
    if ((l.max === undefined) !== (l.per === undefined)) throw new Error(`${at}: a rate needs both max and per`);
    if (l.max === undefined && l.max_active === undefined) throw new Error(`${at}: set max and per, or max_active`);
    return {
      name: l.name,
      ...(l.kind ? { kind: l.kind } : {}),
      ...(l.target ? { target: l.target } : {}),
      ...(l.rule ? { rule: l.rule } : {}),
      ...(l.max !== undefined ? { max: l.max, perMs: parseDuration(l.per!, `${at}.per`) } : {}),
      ...(l.max_active !== undefined ? { maxActive: l.max_active } : {}),
    };
  });
}

