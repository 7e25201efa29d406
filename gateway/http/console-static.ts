import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RequestHandler, Response } from 'express';

/**
 * The web console's files (console/dist, built by `npm run build:console`) under `/console/`.
 * Static files carry no patient data, so they are served here, before the route table and
 * outside the dispatcher, and are not audited; the console reaches data only through the API with
 * its bearer token.
 *
 * - `/console` → 301 to `/console/` (the query kept: the sign-in answer may arrive either way);
 * - `/console/` and `/console/index.html` → the page, `Cache-Control: no-store` (it names the
 *   current hashed files);
 * - `/console/assets/<name>-<hash>.js|css` → immutable, cached for a year;
 * - anything else under `/console/` → 404; other methods → 405;
 * - no build → 503 naming `npm run build:console`.
 *
 * Every answer carries a strict Content-Security-Policy (no inline script or style, nothing from
 * elsewhere, no framing), nosniff and no referrer.
 */

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const DEFAULT_CONSOLE_DIST = path.resolve(__dirname, '..', '..', 'console', 'dist');

const ASSET_NAME = /^[A-Za-z0-9_-]{1,64}-[A-Z0-9]{6,16}\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function consoleStatic(opts: { distDir?: string } = {}): RequestHandler {
  const dist = opts.distDir ?? DEFAULT_CONSOLE_DIST;
  // Hashed assets never change under their name: read once, kept in memory.
  const assets = new Map<string, Buffer>();

  return (req, res, next) => {
    const p = req.path;
    if (p !== '/console' && !p.startsWith('/console/')) return next();
    secure(res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return text(res, 405, 'Method not allowed');
    }
    if (p === '/console') {
      const q = req.originalUrl.indexOf('?');
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(301, `/console/${q >= 0 ? req.originalUrl.slice(q) : ''}`);
    }
    const rest = p.slice('/console/'.length);
    if (rest === '' || rest === 'index.html') {
      readFile(path.join(dist, 'index.html')).then(
        (body) => {
          res.setHeader('Cache-Control', 'no-store');
          res.status(200).type('text/html; charset=utf-8').send(body);
        },
        () => notBuilt(res),
      );
      return;
    }
    const m = /^assets\/([^/]+)$/.exec(rest);
    const name = m?.[1];
    if (!name || !ASSET_NAME.test(name)) return text(res, 404, 'Not found');
    const send = (body: Buffer) => {
      res.setHeader('Cache-Control', IMMUTABLE);
      res.status(200).type(TYPES[name.slice(name.lastIndexOf('.') + 1)]!).send(body);
    };
    const cached = assets.get(name);
    if (cached) return send(cached);
    readFile(path.join(dist, 'assets', name)).then(
      (body) => {
        if (assets.size > 64) assets.clear(); // many rebuilds in one process (tests): keep memory bounded
        assets.set(name, body);
        send(body);
      },
      () => text(res, 404, 'Not found'),
    );
  };
}

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
}

function text(res: Response, status: number, body: string): void {
  res.status(status).type('text/plain; charset=utf-8').send(body);
}

function notBuilt(res: Response): void {
  text(
    res,
    503,
    '互认控制台尚未构建。请在网关目录运行：npm run build:console\n' + 'The console has not been built. Run: npm run build:console\n',
  );
}
