import { signClientAssertion, tokenRequestForm, type TestClient } from '../support/auth';
import { registrarConsent } from '../support/consent-http';
import { HEAVY_NID, LIGHT_NID } from './bench-data';
import { NATIONAL_ID_SYSTEM } from '../../gateway/patient-index/national-id';

/** What every bench gateway needs before it is measured: a token, and the bench's two residents with consent. */

/** An access token from the gateway at `at` (whose public base URL is `publicBase`), for a clinician of `client`. */
export async function benchToken(client: TestClient, at: string, publicBase: string): Promise<string> {
  const assertion = signClientAssertion(client, { aud: `${publicBase}/auth/token`, user: { id: 'D1029', name: '林医生' } });
  const res = await fetch(`${at}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(tokenRequestForm(assertion)).toString() });
  const body = (await res.json()) as { access_token: string };
  if (!body.access_token) throw new Error(`token: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Registers both bench residents (links every hospital), gives each a full consent; their regional ids by national id. */
export async function registerBenchPatients(base: string, bearer: Record<string, string>): Promise<Record<string, string>> {
  const regionalIds: Record<string, string> = {};
  for (const nid of [LIGHT_NID, HEAVY_NID]) {
    const res = await fetch(`${base}/Patient?identifier=${NATIONAL_ID_SYSTEM}|${nid}`, { headers: bearer });
    const bundle = (await res.json()) as { entry?: Array<{ resource: { id: string } }> };
    regionalIds[nid] = bundle.entry![0].resource.id;
    const consent = registrarConsent(regionalIds[nid]);
    const c = await fetch(`${base}/Consent`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/fhir+json' }, body: JSON.stringify(consent) });
    if (c.status !== 201) throw new Error(`consent: ${c.status} ${await c.text()}`);
  }
  return regionalIds;
}
