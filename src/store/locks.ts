/**
 * PostgreSQL advisory lock numbers, one per thing serialised across processes, in one place so that two uses of
 * one lock cannot drift apart.
 */

/** Ingest's correlation (placing alerts in incidents) and the merge of incidents, which moves them. */
export const CORRELATION_LOCK = 727101;

/** The decide stage's count of rate and blast-radius limits and its insert (actions/guards.ts). */
export const LIMITS_LOCK = 0x46_69_64_6f_4c;
