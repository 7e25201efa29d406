import type { Bundle, BundleEntry, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';

/**
 * A searchset Bundle with offset paging (API.md §4). Paging links repeat the query, so any gateway
 * instance can serve the next page: nothing about the search is kept between requests.
 */
export function searchsetBundle(opts: {
  publicBaseUrl: string;
  /** e.g. `/DiagnosticReport` */
  path: string;
  /** the parameters that shaped the answer, without paging */
  params: Array<[string, string]>;
  matches: Resource[];
  includes?: Resource[];
  outcomes?: OperationOutcome[];
  total: number;
  offset: number;
  count: number;
}): Bundle {
  const { publicBaseUrl, path, params, offset, count, total } = opts;
  const url = (off: number) => {
    const q = new URLSearchParams(params);
    q.set('_count', String(count));
    if (off > 0) q.set('_offset', String(off));
    return `${publicBaseUrl}${path}?${q.toString()}`;
  };
  const link: BundleLink[] = [{ relation: 'self', url: url(offset) }, { relation: 'first', url: url(0) }];
  if (offset + count < total) link.push({ relation: 'next', url: url(offset + count) });
  if (offset > 0) link.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
  const entry: BundleEntry[] = [
    ...opts.matches.map((r) => entryOf(publicBaseUrl, r, 'match')),
    ...(opts.includes ?? []).map((r) => entryOf(publicBaseUrl, r, 'include')),
    ...(opts.outcomes ?? []).map((o) => ({ resource: o, search: { mode: 'outcome' as const } })),
  ];
  return { resourceType: 'Bundle', type: 'searchset', total, link, entry };
}

function entryOf(base: string, r: Resource, mode: 'match' | 'include'): BundleEntry {
  return { fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r, search: { mode } };
}
