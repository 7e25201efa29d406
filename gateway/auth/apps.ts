import { CONSOLE_APP_ID, type GatewayConfig } from '../config';

/**
 * SMART apps people sign in to (SMART App Launch 2.x, public clients): the console, always, and
 * those the configuration names. An app is known by its id and its exact redirect URIs — the only
 * places an authorization answer is ever sent (RFC 6749 §3.1.2, OAuth 2.0 Security BCP §4.1).
 */
export interface RegisteredApp {
  id: string;
  name: string;
  redirectUris: readonly string[];
}

export const CONSOLE_PATH = '/console/';

export function registerApps(config: Pick<GatewayConfig, 'publicBaseUrl' | 'apps'>): ReadonlyMap<string, RegisteredApp> {
  const apps = new Map<string, RegisteredApp>();
  apps.set(CONSOLE_APP_ID, { id: CONSOLE_APP_ID, name: 'XZQ 互认控制台', redirectUris: [`${config.publicBaseUrl}${CONSOLE_PATH}`] });
  for (const a of config.apps) apps.set(a.id, { id: a.id, name: a.name, redirectUris: [...a.redirectUris] });
  return apps;
}

/** Exact string comparison: no prefix match, no normalisation, no query or fragment games. */
export const isRegisteredRedirect = (app: RegisteredApp, uri: string) => app.redirectUris.includes(uri);
