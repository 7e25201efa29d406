import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Session } from '../auth/session';

/**
 * The gateway's public FHIR API (API.md) with the session's bearer token: nothing else. A 401 gets
 * one refresh and one retry; when that fails the session shows itself expired. Paging follows the
 * Bundle's `next` link, and only on the console's own origin, so the token is never sent elsewhere.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly outcome?: OperationOutcome,
  ) {
    super(`HTTP ${status}`);
  }
  /** the stable gateway error code (`issue.details.coding.code`), e.g. `consent-required` */
  get code(): string | undefined {
    return this.outcome?.issue?.[0]?.details?.coding?.[0]?.code;
  }
  /** what the gateway said, for the person: details.text, else diagnostics */
  get text(): string | undefined {
    const issue = this.outcome?.issue?.[0];
    return issue?.details?.text ?? issue?.diagnostics;
  }
}

export interface SearchResult<T extends Resource = Resource> {
  matches: T[];
  includes: Resource[];
  outcomes: OperationOutcome[];
  total?: number;
}

/** at most this many pages are followed for one search (200 entries each): a bound, not a limit reached in practice */
const MAX_PAGES = 25;

export class FhirClient {
  constructor(private readonly session: Session) {}

  get<T>(pathOrUrl: string): Promise<T> {
    return this.#send<T>('GET', pathOrUrl);
  }

  /**
   * A file the API renders (the access report as PDF), as a Blob kept in memory: the same bearer
   * token, the one refresh on 401, and a refusal read as the OperationOutcome it is.
   */
  async getBlob(path: string, accept: string): Promise<Blob> {
    const res = await this.#fetch('GET', path, accept);
    if (!res.ok) throw await failure(res);
    return res.blob();
  }

  /** `POST [type]/_search` and other form posts: the parameters stay out of every URL. */
  postForm<T>(path: string, params: Array<[string, string]>): Promise<T> {
    return this.#send<T>('POST', path, { type: 'application/x-www-form-urlencoded', body: new URLSearchParams(params).toString() });
  }

  postJson<T>(path: string, body: unknown): Promise<T> {
    return this.#send<T>('POST', path, { type: 'application/fhir+json', body: JSON.stringify(body) });
  }

  /** A search, every page of it: the first page by POST `_search` (or GET), then each `next` link. */
  async searchAll<T extends Resource>(first: { path: string; params?: Array<[string, string]> }, maxPages = MAX_PAGES): Promise<SearchResult<T>> {
    const out: SearchResult<T> = { matches: [], includes: [], outcomes: [] };
    let bundle: Bundle = first.params ? await this.postForm<Bundle>(first.path, first.params) : await this.get<Bundle>(first.path);
    out.total = bundle.total;
    for (let page = 1; ; page++) {
      addEntries(out, bundle.entry ?? []);
      const next = nextLink(bundle);
      if (!next || page >= maxPages) break;
      bundle = await this.get<Bundle>(next);
    }
    return out;
  }

  /** One page, for searches the person pages through by hand (the audit trail). */
  async searchPage<T extends Resource>(first: { path: string; params?: Array<[string, string]> } | { next: string }): Promise<SearchResult<T> & { next?: string }> {
    const bundle = 'next' in first ? await this.get<Bundle>(first.next) : first.params ? await this.postForm<Bundle>(first.path, first.params) : await this.get<Bundle>(first.path);
    const out: SearchResult<T> & { next?: string } = { matches: [], includes: [], outcomes: [], total: bundle.total };
    addEntries(out, bundle.entry ?? []);
    const next = nextLink(bundle);
    if (next) out.next = next;
    return out;
  }

  async #send<T>(method: string, pathOrUrl: string, body?: { type: string; body: string }): Promise<T> {
    const res = await this.#fetch(method, pathOrUrl, 'application/fhir+json', body);
    if (!res.ok) throw await failure(res);
    return (await res.json().catch(() => undefined)) as T;
  }

  async #fetch(method: string, pathOrUrl: string, accept: string, body?: { type: string; body: string }, retried = false): Promise<Response> {
    const url = sameOrigin(pathOrUrl);
    const token = await this.session.accessToken();
    if (!token) throw new ApiError(401);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { Accept: accept, Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': body.type } : {}) },
        body: body?.body,
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      throw new ApiError(0);
    }
    if (res.status === 401 && !retried) {
      if (await this.session.afterUnauthorized()) return this.#fetch(method, pathOrUrl, accept, body, true);
      // a refresh that could not reach the gateway leaves the session as it was: a network failure, not an expiry
      throw new ApiError(this.session.state.kind === 'signed-in' ? 0 : 401);
    }
    return res;
  }
}

/** A refused or failed answer: its status, and the OperationOutcome when the gateway sent one. */
async function failure(res: Response): Promise<ApiError> {
  const parsed = await res.json().catch(() => undefined);
  return new ApiError(res.status, isOutcome(parsed) ? parsed : undefined);
}

function addEntries<T extends Resource>(out: SearchResult<T>, entries: BundleEntry[]): void {
  for (const e of entries) {
    const r = e.resource;
    if (!r) continue;
    if (e.search?.mode === 'outcome' || r.resourceType === 'OperationOutcome') out.outcomes.push(r as OperationOutcome);
    else if (e.search?.mode === 'include') out.includes.push(r);
    else out.matches.push(r as T);
  }
}

function nextLink(bundle: Bundle): string | undefined {
  return bundle.link?.find((l) => l.relation === 'next')?.url;
}

/** A path, or an absolute URL on this origin reduced to its path: the bearer token goes nowhere else. */
function sameOrigin(pathOrUrl: string): string {
  const url = new URL(pathOrUrl, location.origin);
  if (url.origin !== location.origin) throw new ApiError(0);
  return url.pathname + url.search;
}

const isOutcome = (x: unknown): x is OperationOutcome => typeof x === 'object' && x !== null && (x as Resource).resourceType === 'OperationOutcome';
