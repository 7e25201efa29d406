import express, { type ErrorRequestHandler, type Express } from 'express';
import { badRequest, methodNotAllowed, payloadTooLarge } from '../fhir/outcomes';
import { consoleStatic } from './console-static';
import { dispatcher, type HttpDeps } from './dispatch';
import type { Route } from './route';

/**
 * The HTTP layer, declared top to bottom in one place (STYLE.md §7):
 *   1. hardening (no fingerprinting, no caching of patient data); the web console's static files
 *      under /console/ (no patient data, not audited; console-static.ts)
 *   2. every route of the route table, most specific path first, through the one dispatcher
 *      (auth → handler → audit → respond)
 *   3. 405 for a known path with another method
 *   4. 404 for anything else
 *   5. errors express raises itself (undecodable URLs) → 400 OperationOutcome, audited like the rest
 */
export function createExpressApp(services: HttpDeps, routes: Route[]): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false); // the dispatcher parses queries itself, keeping repeated names

  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(consoleStatic());

  const ordered = sortBySpecificity(routes);
  for (const route of ordered) {
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete' | 'patch';
    app[method](route.path, dispatcher(route, services));
  }

  const knownPaths = [...new Set(ordered.map((r) => r.path))];
  for (const path of knownPaths) {
    const allowed = ordered.filter((r) => r.path === path).map((r) => r.method);
    app.all(
      path,
      dispatcher(
        {
          method: 'GET',
          path,
          interaction: 'unknown',
          access: { kind: 'none' },
          audited: true,
          admitted: false, // refuses at once, reading nothing
          body: 'none',
          handler: async () => {
            throw methodNotAllowed(`Allowed: ${allowed.join(', ')}`);
          },
        },
        services,
      ),
    );
  }

  app.use(dispatcher(undefined, services));

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const tooLarge = (err as { type?: string }).type === 'entity.too.large';
    dispatcher(
      {
        method: 'GET',
        path: req.path,
        interaction: 'unknown',
        access: { kind: 'none' },
        audited: true,
        admitted: false,
        body: 'none',
        handler: async () => {
          throw tooLarge ? payloadTooLarge('1 MiB') : badRequest('The request could not be read (malformed URL or parameters)');
        },
      },
      services,
    )(req, res, () => undefined);
  };
  app.use(onError);
  return app;
}

/** Literal path segments before parameters, so `/Patient/$ihe-pix` wins over `/Patient/:id`. */
export function sortBySpecificity(routes: Route[]): Route[] {
  const key = (p: string) => p.split('/').map((s) => (s.startsWith(':') ? '1' : '0')).join('');
  return [...routes].sort((a, b) => {
    const ka = key(a.path);
    const kb = key(b.path);
    if (ka.length !== kb.length) return ka.length - kb.length;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
