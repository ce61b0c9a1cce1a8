/**
 * A configurable component kind (receiver, enrichment provider, action): its name in config (`kind:`), a
 * one-line description for `fido … list` commands, and the JSON Schema of its settings. The config loader
 * validates each declared entry against the schema of its kind, so errors name the exact key and line.
 */
import type { TSchema } from 'typebox';

export interface ComponentKind {
  readonly kind: string;
  readonly description: string;
  readonly configSchema: TSchema;
}
