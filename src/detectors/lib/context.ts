/**
 * What a detector may know besides the record: when Fido received it and which time zone the source's
 * zone-less timestamps are in. The Detector contract (`parse(record)`) has no room for this, and a detector
 * must not read the clock (a batch redone after a crash must give the same alerts), so the registry sets
 * the context around each parse call. Parsing is synchronous, so one module-level slot is enough.
 */
export interface ParseContext {
  /** When the record was received: the reference for year inference and the time of records that carry none. */
  readonly receivedAt: Date;
  /** IANA name (Europe/Berlin) or offset (+02:00) for timestamps without a zone; UTC by default. */
  readonly timeZone: string;
}

let current: ParseContext | undefined;

/** The context of the parse in progress; outside one (direct calls in tests), now and UTC. */
export function parseContext(): ParseContext {
  return current ?? { receivedAt: new Date(), timeZone: 'UTC' };
}

export function withParseContext<T>(ctx: Partial<ParseContext>, fn: () => T): T {
  const previous = current;
  current = { receivedAt: ctx.receivedAt ?? new Date(), timeZone: ctx.timeZone ?? 'UTC' };
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** The received time as an ISO string, for records that carry no time of their own. */
export function receivedTime(): string {
  return parseContext().receivedAt.toISOString();
}
