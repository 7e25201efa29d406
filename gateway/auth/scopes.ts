import type { Role } from '../config';

/**
 * SMART v2 system scopes and what each role may have (API.md §3). Pure functions: the token
 * endpoint uses them to grant, `authorize` to check.
 */

/** API.md §3: roles grant scopes. `monitor` has none (it reaches `/metrics` by role alone). */
export const ROLE_SCOPES: Readonly<Record<Role, readonly string[]>> = {
  clinician: [
    'system/Patient.rs',
    'system/DiagnosticReport.rs',
    'system/Observation.rs',
    'system/ImagingStudy.rs',
    'system/Organization.rs',
  ],
  registrar: ['system/Patient.rs', 'system/Consent.cruds'],
  auditor: ['system/AuditEvent.rs', 'system/Organization.rs'],
  monitor: [],
};

const PERMISSION_ORDER = 'cruds';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

/** A parsed `system/<Resource>.<permissions>` scope. */
export interface SystemScope {
  resource: string;
  permissions: Set<Permission>;
}

// SMART v2: permissions are a non-empty subset of c r u d s, in that order. No wildcards, no
// query-qualified scopes (`?category=…`) and no v1 `.read`/`.write`: nothing here grants them.
// `system/` scopes go to hospital systems, `user/` scopes to people signed in to an app: the same
// resources and permissions, the person's roles deciding instead of the client's.
const SCOPE_RE = { system: /^system\/([A-Z][A-Za-z]{1,63})\.(c?r?u?d?s?)$/, user: /^user\/([A-Z][A-Za-z]{1,63})\.(c?r?u?d?s?)$/ } as const;
export type ScopeContext = keyof typeof SCOPE_RE;

/** Parse one scope; null when it is not a SMART v2 scope of the context, of the form we grant. */
export function parseScope(scope: string, context: ScopeContext = 'system'): SystemScope | null {
  const m = SCOPE_RE[context].exec(scope);
  if (!m || !m[2]) return null;
  return { resource: m[1]!, permissions: new Set(m[2].split('') as Permission[]) };
}

const formatScope = (s: SystemScope, context: ScopeContext = 'system') =>
  `${context}/${s.resource}.${PERMISSION_ORDER.split('').filter((p) => s.permissions.has(p as Permission)).join('')}`;

/**
 * Scopes an app may ask for at sign-in that grant no data here (OpenID, launch context, offline
 * access): accepted and left out of the grant, so a standard SMART app's request does not fail.
 */
export const IDENTITY_SCOPES = new Set(['openid', 'fhirUser', 'profile', 'offline_access', 'online_access', 'launch/patient']);

/** Every scope any of `roles` grants, in a stable order without duplicates. */
export function scopesForRoles(roles: readonly Role[], context: ScopeContext = 'system'): string[] {
  const out: string[] = [];
  for (const role of roles) {
    for (const s of ROLE_SCOPES[role] ?? []) {
      const scope = context === 'system' ? s : s.replace(/^system\//, `${context}/`);
      if (!out.includes(scope)) out.push(scope);
    }
  }
  return out;
}

/** Every scope the gateway can grant (smart-configuration `scopes_supported`). */
export const ALL_SCOPES: readonly string[] = scopesForRoles(Object.keys(ROLE_SCOPES) as Role[]);

/** Whether the granted scopes allow `permission` on `resource` (any permission when none is named). */
export function scopesAllow(granted: readonly string[], resource: string, permission?: Permission): boolean {
  for (const g of granted) {
    const s = parseScope(g) ?? parseScope(g, 'user');
    if (s && s.resource === resource && (permission === undefined || s.permissions.has(permission))) return true;
  }
  return false;
}

export type ScopeDecision = { ok: true; scopes: string[] } | { ok: false; reason: string };

/** Longest `scope` parameter accepted; far more than every grantable scope together. */
export const MAX_SCOPE_LENGTH = 2048;

/**
 * The scopes to grant for a token request: all of the roles' scopes when none is asked for,
 * else exactly the asked ones (normalised, deduplicated) provided each lies within one scope the
 * roles grant — `system/Patient.r` is within `system/Patient.rs`. Anything else → refused
 * (`invalid_scope`).
 */
export function grantScopes(requested: string | undefined, roles: readonly Role[], context: ScopeContext = 'system'): ScopeDecision {
  const allowed = scopesForRoles(roles, context);
  if (requested === undefined || requested.trim() === '') return { ok: true, scopes: allowed };
  if (requested.length > MAX_SCOPE_LENGTH) return { ok: false, reason: 'scope too long' };
  const allowedParsed = allowed.map((s) => parseScope(s, context)).filter((s): s is SystemScope => s !== null);
  const tokens = requested.trim().split(/ +/).filter((t) => !(context === 'user' && IDENTITY_SCOPES.has(t)));
  // Only identity scopes asked for: the person's whole grant, as a SMART app expects.
  if (tokens.length === 0) return { ok: true, scopes: allowed };
  const out: string[] = [];
  for (const token of tokens) {
    const asked = parseScope(token, context);
    if (!asked) return { ok: false, reason: 'unsupported scope' };
    const within = allowedParsed.some(
      (a) => a.resource === asked.resource && [...asked.permissions].every((p) => a.permissions.has(p)),
    );
    if (!within) return { ok: false, reason: `scope exceeds the ${context === 'user' ? 'user' : 'client'}'s roles` };
    const normal = formatScope(asked, context);
    if (!out.includes(normal)) out.push(normal);
  }
  return { ok: true, scopes: out };
}
