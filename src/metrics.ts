/** The pinned Prometheus metrics (DESIGN.md §5). Label values are bounded: sources, stages, kinds, providers. */
import { isMainThread } from 'node:worker_threads';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export const registry = new Registry();
// Process metrics once per process: the pipeline thread (thread/pipeline.ts) would report the same process again.
if (isMainThread) collectDefaultMetrics({ register: registry, prefix: 'fido_' }); // fido_process_cpu_seconds_total, fido_nodejs_heap_size_used_bytes, …

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
const peers = new Set<() => MetricsJson>();

/**
 * Adds another thread's metrics to what metricsText() serves; returns the function that removes them.
 * `last` returns the snapshot that thread last pushed: /metrics never waits on a thread that may be busy
 * (a late answer, or a missing one, would make its counters vanish and reappear — resets to Prometheus).
 */
export function addMetricsPeer(last: () => MetricsJson): () => void {
  peers.add(last);
  return () => peers.delete(last);
}

/** The Prometheus text of this thread's metrics, summed with every peer thread's last snapshot. */
export async function metricsText(): Promise<string> {
  if (peers.size === 0) return registry.metrics();
  const all = [await registry.getMetricsAsJSON(), ...[...peers].map((last) => last())];
  return AggregatorRegistry.aggregate(all).metrics();
}

export const intakeAlerts = new Counter({
  name: 'fido_intake_alerts_total',
  help: 'Raw records durably accepted at intake, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const stageProcessed = new Counter({
  name: 'fido_stage_processed_total',
  help: 'Items a pipeline stage finished, by stage',
  labelNames: ['stage'] as const,
  registers: [registry],
});
export const stageBacklog = new Gauge({
  name: 'fido_stage_backlog',
  help: 'Items waiting for a pipeline stage',
  labelNames: ['stage'] as const,
  registers: [registry],
});
export const stageLagSeconds = new Gauge({
  name: 'fido_stage_lag_seconds',
  help: 'How long the oldest item waiting for a pipeline stage has waited (0 when none waits)',
  labelNames: ['stage'] as const,
  registers: [registry],
});
export const receiverUp = new Gauge({
  name: 'fido_receiver_up',
  help: "1 when a source's receiver runs (as its process last reported), 0 when it is paused, failing, stopped or unknown",
  labelNames: ['source', 'kind'] as const,
  registers: [registry],
});
export const receiverLastRecord = new Gauge({
  name: 'fido_receiver_last_record_timestamp_seconds',
  help: "When a source's receiver last accepted a record (Unix time; absent before the first)",
  labelNames: ['source'] as const,
  registers: [registry],
});
export const receiverLagSeconds = new Gauge({
  name: 'fido_receiver_lag_seconds',
  help: 'How far a receiver is behind its upstream, where the upstream says',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const parseTimeLimited = new Counter({
  name: 'fido_parse_time_limit_total',
  help: 'Records set aside (quarantined) because parsing them took longer than the parse time limit, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const quarantined = new Counter({
  name: 'fido_quarantined_total',
  help: 'Records no detector could parse, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const actionsTotal = new Counter({
  name: 'fido_actions_total',
  help: 'Action attempts by kind and outcome (succeeded, retry, dead, denied, skipped)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});
export const enrichLookups = new Counter({
  name: 'fido_enrich_lookups_total',
  help: 'Enrichment lookups by provider and result (hit, miss, coalesced, error, ratelimited)',
  labelNames: ['provider', 'result'] as const,
  registers: [registry],
});
export const enrichQuotaRemaining = new Gauge({
  name: 'fido_enrich_quota_remaining',
  help: "Calls left in a provider's quota for the current period (minute, hour, day, month)",
  labelNames: ['provider', 'period'] as const,
  registers: [registry],
});
export const stageSeconds = new Histogram({
  name: 'fido_stage_batch_seconds',
  help: 'Time to process one batch, by stage',
  labelNames: ['stage'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});
export const alertDecisionSeconds = new Histogram({
  name: 'fido_alert_decision_seconds',
  help: "Per incident decision, from the intake commit of its oldest alert not yet decided to the decision",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});
export const authFailures = new Counter({
  name: 'fido_auth_failures_total',
  help: 'Requests refused with 401, by reason: invalid (a token was presented and did not verify) or missing (no Authorization header)',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const authRateLimited = new Counter({
  name: 'fido_auth_rate_limited_total',
  help: 'Requests refused with 429 because their address passed auth.failed_attempts',
  registers: [registry],
});
export const httpConnections = new Gauge({
  name: 'fido_http_connections',
  help: 'Open HTTP connections, by state: served, or shed (accepted past server.max_connections[_per_address], answered 503)',
  labelNames: ['state'] as const,
  registers: [registry],
});
export const httpConnectionsShed = new Counter({
  name: 'fido_http_connections_shed_total',
  help: 'HTTP connections accepted past a limit and answered 503 (/healthz excepted), by reason: total or per_address',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const httpConnectionsDropped = new Counter({
  name: 'fido_http_connections_dropped_total',
  help: 'HTTP connections closed unanswered because as many were already being shed as the server allows',
  registers: [registry],
});
export const apiServerErrors = new Counter({
  name: 'fido_api_server_errors_total',
  help: 'API responses with a 5xx status, by method, route (the route pattern, "(no route)" when none matched) and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});
export const intakeCommitFailures = new Counter({
  name: 'fido_intake_commit_failures_total',
  help: 'Intake log transactions that failed (their records were refused to the receivers, which retry or answer 503), by source in the transaction',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const intakeDuplicates = new Counter({
  name: 'fido_intake_duplicates_total',
  help: 'Records a receiver delivered again (same upstream key: a bus redelivery) and the intake log did not store twice, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const intakeCommitFailedRecords = new Counter({
  name: 'fido_intake_commit_failed_records_total',
  help: 'Raw records refused because their intake log transaction failed, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});
