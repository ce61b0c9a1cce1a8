/** Health (no auth) and Prometheus metrics, at the root and under /api/v1. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ApiContext } from '../context.js';
import { measureBacklog } from '../../pipeline/backlog.js';
import { receiverHealth } from './overview.js';
import { metricsText, receiverLagSeconds, receiverLastRecord, receiverUp, registry } from '../../metrics.js';
import { errorContext, log } from '../../util/log.js';

export default async function systemRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const health = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    try {
      await sql`select 1`.execute(ctx.store.db);
      return { status: 'ok', store: ctx.store.dialect, config_version: ctx.configVersion };
    } catch {
      return reply.code(503).send({ status: 'unavailable', store: ctx.store.dialect });
    }
  };
  const metrics = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    // A store that does not answer must not cost the rest of the figures.
    await measureBacklog(ctx.store).catch((e: unknown) => log.warn({ err: errorContext(e) }, 'metrics: the backlog could not be measured; its figures are the last ones'));
    await measureReceivers(ctx).catch((e: unknown) => log.warn({ err: errorContext(e) }, "metrics: the receivers' health could not be read; its figures are the last ones"));
    return reply.header('content-type', registry.contentType).send(await metricsText());
  };

  for (const prefix of ['', '/api/v1']) {
    // shedExempt: answered even on a connection past the limits, so a health check does not fail while Fido sheds.
    // The root paths are for probes and scrapers; the document lists each once, under /api/v1.
    const doc = { tags: ['system'], hide: prefix === '' };
    app.get(`${prefix}/healthz`, { config: { shedExempt: true }, schema: { ...doc, summary: 'Liveness and store reachability (no auth)', security: [] } }, health);
    app.get(`${prefix}/metrics`, { config: { role: 'viewer' }, schema: { ...doc, summary: 'Prometheus metrics' } }, metrics);
  }
}

/** The receivers' health as gauges, read from the store at each scrape (the same whichever process is scraped). */
async function measureReceivers(ctx: ApiContext): Promise<void> {
  for (const r of await receiverHealth(ctx)) {
    receiverUp.set({ source: r.name, kind: r.kind }, r.state === 'running' ? 1 : 0);
    if (r.last_record_at !== null) receiverLastRecord.set({ source: r.name }, r.last_record_at / 1000);
    if (r.lag_ms !== null) receiverLagSeconds.set({ source: r.name }, r.lag_ms / 1000);
  }
}
