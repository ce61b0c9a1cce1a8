/**
 * A configurable component kind (receiver, enrichment provider, action): its name in config (`kind:`), a
 * one-line description for `fido … list` commands, and the JSON Schema of its settings. The config loader
 * validates each declared entry against the schema of its kind, so errors name the exact key and line.
 */
import type { TSchema } from 'typebox';

/** A problem with one entry that its schema cannot express; `key` is relative to the entry (e.g. `url`). */
export interface ComponentProblem {
  key: string;
  message: string;
}

export interface ComponentKind {
  readonly kind: string;
  readonly description: string;
  readonly configSchema: TSchema;
  /**
   * Checks beyond the schema that need no I/O and no secrets (e.g. an outbound URL's address), run on an
   * entry that passed its schema. `fido config validate` reports them; the kind's constructor must refuse
   * the same entries with the same messages (call this), so that validate and start agree.
   */
  check?(entry: Readonly<Record<string, unknown>>): ComponentProblem[];
}
