import { storeLang, type Lang, type MessageKey } from '../i18n';
import { newPkce } from './pkce';
import {
  authorizeUrl,
  discover,
  exchangeCode,
  OAuthFailure,
  refreshTokens,
  revoke,
  type ConsoleUser,
  type SmartConfiguration,
  type TokenAnswer,
} from './smart-client';

/**
 * The signed-in person's session in this tab: the tokens, their refresh before expiry, break-glass
 * and sign-out.
 *
 * Storage: tokens live in memory and in sessionStorage (so a reload of the tab stays signed in;
 * closing the tab forgets them) — never localStorage, cookies or URLs. The PKCE verifier and
 * `state` are in sessionStorage only between leaving for the sign-in page and coming back.
 * The break-glass reason is kept in memory only: it is free text that may say something about the
 * patient.
 */

const SESSION_KEY = 'xzq.session';
const PKCE_KEY = 'xzq.pkce';
/** refresh this long before the access token expires */
const REFRESH_LEAD_MS = 30_000;
const RETRY_MS = 15_000;

interface Tokens {
  accessToken: string;
  refreshToken?: string;
  /** browser clock, ms */
  expiresAt: number;
  user: ConsoleUser;
  purpose: 'TREAT' | 'ETREAT';
}

export type SessionState =
  | { kind: 'starting'; message: MessageKey }
  | { kind: 'signed-in'; user: ConsoleUser; purpose: 'TREAT' | 'ETREAT'; breakGlassReason?: string }
  | { kind: 'signed-out' }
  | { kind: 'expired' }
  | { kind: 'failed'; message: MessageKey; reason?: string };

export class Session {
  #state: SessionState = { kind: 'starting', message: 'app.loading' };
  #tokens: Tokens | undefined;
  #config: SmartConfiguration | undefined;
  #refreshing: Promise<boolean> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #breakGlassReason: string | undefined;
  /** moves on each sign-out or expiry, so an answer arriving after it is dropped */
  #epoch = 0;
  readonly #listeners = new Set<(s: SessionState) => void>();

  constructor(private readonly lang: () => Lang) {}

  get state(): SessionState {
    return this.#state;
  }

  subscribe(listener: (s: SessionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** On page load: finish a sign-in coming back with `?code=`, or resume the tab's session, or go and sign in. */
  async start(): Promise<void> {
    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error') || params.has('state')) return this.#finishSignIn(params);
    const saved = readJson<Tokens>(SESSION_KEY);
    if (saved && typeof saved.accessToken === 'string' && saved.user) {
      this.#tokens = saved;
      this.#signedIn();
      if (saved.expiresAt - Date.now() < REFRESH_LEAD_MS) await this.refresh();
      else this.#schedule();
      return;
    }
    await this.signIn();
  }

  /** Leave for the gateway's sign-in page (authorization code + PKCE). */
  async signIn(): Promise<void> {
    this.#set({ kind: 'starting', message: 'session.redirecting' });
    try {
      const config = await this.#smart();
      const pkce = await newPkce();
      writeJson(PKCE_KEY, { verifier: pkce.verifier, state: pkce.state });
      location.assign(authorizeUrl(config, { state: pkce.state, challenge: pkce.challenge, lang: this.lang() }));
    } catch (e) {
      this.#fail(e);
    }
  }

  async #finishSignIn(params: URLSearchParams): Promise<void> {
    // The code and state leave the address bar (and the history entry) before anything else.
    history.replaceState(null, '', location.pathname);
    this.#set({ kind: 'starting', message: 'session.signingIn' });
    const pkce = readJson<{ verifier: string; state: string }>(PKCE_KEY);
    sessionStorage.removeItem(PKCE_KEY);
    const error = params.get('error');
    if (error) return this.#set({ kind: 'failed', message: 'session.denied', reason: params.get('error_description') ?? error });
    const code = params.get('code');
    if (!pkce || typeof pkce.verifier !== 'string') return this.#set({ kind: 'failed', message: 'session.noPkce' });
    if (!code || params.get('state') !== pkce.state) return this.#set({ kind: 'failed', message: 'session.stateMismatch' });
    try {
      const answer = await exchangeCode(await this.#smart(), code, pkce.verifier);
      this.#accept(answer, 'TREAT');
      this.#signedIn();
    } catch (e) {
      this.#fail(e);
    }
  }

  /** The access token for an API call, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | undefined> {
    if (this.#tokens && this.#tokens.expiresAt - Date.now() < 5_000) await this.refresh();
    return this.#tokens?.accessToken;
  }

  /** An API call answered 401: one refresh, and the caller tries once more; false when the session is over. */
  async afterUnauthorized(): Promise<boolean> {
    return this.refresh();
  }

  /** Refresh now (rotating the refresh token). false, and the session shown expired, when the gateway refuses. */
  refresh(breakGlassReason?: string): Promise<boolean> {
    if (this.#refreshing && breakGlassReason === undefined) return this.#refreshing;
    // One refresh at a time: the refresh token rotates, so two at once would spend it twice.
    const before = this.#refreshing ?? Promise.resolve(true);
    const run = before.then(() => this.#doRefresh(breakGlassReason));
    // what others wait on never rejects; only the break-glass caller sees the gateway's refusal
    const settled: Promise<boolean> = run
      .catch(() => false)
      .finally(() => {
        if (this.#refreshing === settled) this.#refreshing = undefined;
      });
    this.#refreshing = settled;
    return breakGlassReason === undefined ? settled : run;
  }

  async #doRefresh(breakGlassReason?: string): Promise<boolean> {
    const refreshToken = this.#tokens?.refreshToken;
    const epoch = this.#epoch;
    if (!refreshToken) {
      this.#expire();
      return false;
    }
    try {
      const answer = await refreshTokens(await this.#smart(), refreshToken, breakGlassReason);
      if (epoch !== this.#epoch) return false; // signed out meanwhile: the answer is not kept
      this.#breakGlassReason = breakGlassReason;
      this.#accept(answer, breakGlassReason === undefined ? 'TREAT' : 'ETREAT');
      this.#signedIn();
      return true;
    } catch (e) {
      if (epoch !== this.#epoch) return false;
      if (breakGlassReason !== undefined && e instanceof OAuthFailure && e.error !== 'invalid_grant') throw e; // refused break-glass: the session goes on
      if (e instanceof OAuthFailure && (e.error === 'network' || e.status >= 500)) {
        // the gateway is unreachable for now: keep the session, try again shortly
        this.#clearTimer();
        this.#timer = setTimeout(() => void this.refresh(), RETRY_MS);
        return false;
      }
      this.#expire();
      return false;
    }
  }

  /** A break-glass token (purpose of use ETREAT) with the clinician's reason; throws the gateway's refusal. */
  async breakGlass(reason: string): Promise<void> {
    const ok = await this.refresh(reason);
    if (!ok) throw new OAuthFailure('invalid_grant', 'session expired', 400);
  }

  /** Back to ordinary treatment (TREAT) at once, rather than at the next scheduled refresh. */
  endBreakGlass(): Promise<boolean> {
    return this.refresh();
  }

  async signOut(): Promise<void> {
    const refreshToken = this.#tokens?.refreshToken;
    this.#forget();
    this.#set({ kind: 'signed-out' });
    if (refreshToken) await revoke(await this.#smart().catch(() => ({}) as SmartConfiguration), refreshToken);
  }

  #accept(answer: TokenAnswer, purpose: 'TREAT' | 'ETREAT'): void {
    const user = answer.user ?? this.#tokens?.user;
    if (!user) throw new OAuthFailure('server_error', 'the token answer names no user', 200);
    this.#tokens = {
      accessToken: answer.access_token,
      // the refresh token rotates: always keep the newest
      refreshToken: answer.refresh_token ?? this.#tokens?.refreshToken,
      expiresAt: Date.now() + answer.expires_in * 1000,
      user: { ...user, roles: Array.isArray(user.roles) ? user.roles : [] },
      purpose,
    };
    writeJson(SESSION_KEY, this.#tokens);
    this.#schedule();
  }

  #schedule(): void {
    this.#clearTimer();
    if (!this.#tokens) return;
    const wait = Math.max(0, this.#tokens.expiresAt - Date.now() - REFRESH_LEAD_MS);
    // the scheduled refresh asks for no purpose: a break-glass token is not renewed silently
    this.#timer = setTimeout(() => void this.refresh(), wait);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #signedIn(): void {
    const t = this.#tokens!;
    this.#set({ kind: 'signed-in', user: t.user, purpose: t.purpose, ...(t.purpose === 'ETREAT' && this.#breakGlassReason ? { breakGlassReason: this.#breakGlassReason } : {}) });
  }

  #expire(): void {
    this.#forget();
    this.#set({ kind: 'expired' });
  }

  #forget(): void {
    this.#epoch += 1;
    this.#clearTimer();
    this.#tokens = undefined;
    this.#breakGlassReason = undefined;
    try {
      sessionStorage.clear();
    } catch {
      // nothing stored
    }
    storeLang(this.lang()); // the language choice is no secret; it survives sign-out

  }

  #fail(e: unknown): void {
    if (e instanceof OAuthFailure) {
      if (e.error === 'network') return this.#set({ kind: 'failed', message: 'session.unreachable' });
      return this.#set({ kind: 'failed', message: 'session.failed', reason: e.description || e.error });
    }
    this.#set({ kind: 'failed', message: 'session.failed', reason: String((e as Error)?.message ?? e) });
  }

  async #smart(): Promise<SmartConfiguration> {
    this.#config ??= await discover();
    return this.#config;
  }

  #set(s: SessionState): void {
    this.#state = s;
    for (const l of this.#listeners) l(s);
  }
}

function readJson<T>(key: string): T | undefined {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

function writeJson(key: string, value: unknown): void {
  try {
    sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage refused: the session lasts for this page only
  }
}
