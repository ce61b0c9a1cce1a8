/**
 * Fido's one component model. Every plug-in point that a configuration names by `kind` — a receiver
 * (intake/receivers/), an enrichment provider (enrich/providers/), an action kind (actions/kinds/) — is a
 * folder in which each file default-exports one component, made with that point's define… function
 * (defineReceiver, defineProvider, defineAction). A component says what it is called in the configuration,
 * what one entry of it may hold (a JSON Schema, from which the entry's type is derived), what it checks beyond
 * the schema, and how it is built from a checked entry. The folder is read at start (discover.ts) and the
 * entries of the configuration are built in one place (instantiate.ts): adding a component is one file and
 * its test. Reference: enrich/providers/netsegments.ts.
 */
import type { Static, TSchema } from 'typebox';

export type { ComponentEntry } from '../config/schema.js';

/** A problem with one entry that its schema cannot express; `key` is relative to the entry (e.g. `url`). */
export interface ComponentProblem {
  key: string;
  message: string;
}

/**
 * One kind of a plug-in point. `Deps` is what the point hands every instance (the store, the config's
 * directory, a clock…); `Instance` is what `create` builds.
 */
export interface Component<S extends TSchema = TSchema, Deps = never, Instance = unknown> {
  /** The name a configuration entry gives as `kind:`. */
  readonly kind: string;
  /** One line, for `fido … list` commands and error messages. */
  readonly description: string;
  /** One configuration entry of this kind (with its `name` and `kind`). */
  readonly schema: S;
  /**
   * Checks beyond the schema that need no I/O and no secrets (e.g. an outbound URL's address), on an entry
   * that passed its schema. `fido config validate` reports them and instantiate() refuses the same entries,
   * so that validate and start agree.
   */
  check?(config: Static<S>): ComponentProblem[];
  /** Builds an instance from an entry that passed the schema and `check`; errors name what is wrong. */
  create(config: Static<S>, deps: Deps): Promise<Instance>;
}

/** Any component, whatever its schema: what registries and validation hold. */
// Methods are bivariant in their parameters, so a component of a specific schema is one of these.
export type AnyComponent = Component<TSchema, never, unknown>;
