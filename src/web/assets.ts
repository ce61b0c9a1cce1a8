/**
 * Serves the built web app (web/ → dist/web, `npm run build:web`) from Fido's own HTTP server, under a strict
 * Content-Security-Policy: scripts, styles, images and connections from Fido's origin only, nothing inline,
 * no framing. The client's routes all answer index.html; everything else stays the API's (and its 404s).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import helmet from '@fastify/helmet';

export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Paths that are never the web app's, whatever follows: their unknown URLs stay the API's 404s. */
const NOT_THE_APP = /^\/(api|auth)(\/|$)|^\/(healthz|metrics)$/;

export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

export async function webAssets(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? WEB_ROOT;
  // Every answer gets the headers (API answers too: they must never be framed or sniffed); a route that sets its
  // own CSP (the approval page) keeps it.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // HSTS belongs to whoever terminates TLS (Fido itself speaks HTTP); a proxy in front sets it.
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
  const built = existsSync(`${root}index.html`);
  if (built) {
    // Hashed file names: cached for a year. Listed once at start (wildcard: false), so no path outside them is served.
    await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: false, immutable: true, maxAge: '365d', globIgnore: ['index.html'] });
  }
  // Every other GET is one of the app's own pages (its router draws the page, or its "not found"); a path that
  // names a file (a dot in its last segment) and no built file is a 404.
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (NOT_THE_APP.test(path) || path.slice(path.lastIndexOf('/') + 1).includes('.')) return reply.callNotFound();
    if (!built) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The web app is not built in this installation: run `npm run build:web` (the API is at /api/v1).\n');
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', root, { immutable: false, maxAge: 0 });
  });
}
