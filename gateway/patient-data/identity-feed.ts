import type { Patient } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../config';
import { badRequest, forbidden, unprocessable } from '../fhir/outcomes';
import { NATIONAL_ID_SYSTEM, validateNationalId } from '../patient-index/national-id';
import { mrnSystem } from '../patient-index/patient-resource';

/**
 * The Patient a hospital feeds (docs/patient-data.md §6; IHE ITI-104 in spirit): the resident's
 * national id, checked to its check character, and the hospital's own record numbers, each under a
 * known assigning authority. Names, addresses and the rest stay with the hospital and are not read.
 * Pure; throws the OperationOutcome that names the problem.
 */
export interface FedIdentity {
  nationalId: string;
  mrns: string[];
}

const MRN_RE = /^[^\s\p{Cc}]{1,100}$/u;

export function parseFedPatient(body: unknown, ctx: { config: Pick<GatewayConfig, 'canonicalBase' | 'hospitals'>; hospitalId: string }): FedIdentity {
  if (!body || typeof body !== 'object' || (body as { resourceType?: unknown }).resourceType !== 'Patient') {
    throw unprocessable('The body must be a FHIR Patient resource', 'Patient', 'invalid-resource');
  }
  const identifiers = (body as Patient).identifier;
  if (!Array.isArray(identifiers) || identifiers.length === 0) throw unprocessable('Patient.identifier is required: the national id and your record numbers', 'Patient.identifier', 'invalid-resource');
  const own = mrnSystem(ctx.config.canonicalBase, ctx.hospitalId);
  const known = new Set(ctx.config.hospitals.map((h) => mrnSystem(ctx.config.canonicalBase, h.id)));
  let nationalId: string | undefined;
  const mrns: string[] = [];
  identifiers.forEach((i, n) => {
    const where = `Patient.identifier[${n}]`;
    if (!i || typeof i.value !== 'string' || typeof i.system !== 'string') throw unprocessable('Every identifier needs a system and a value', where, 'invalid-resource');
    if (i.system === NATIONAL_ID_SYSTEM) {
      const v = validateNationalId(i.value);
      if (!v.ok) throw unprocessable(`The national id is not valid (${v.problem})`, `${where}.value`, `national-id-${v.problem}`);
      if (nationalId && nationalId !== v.id) throw unprocessable('A patient has one national id', where, 'invalid-resource');
      nationalId = v.id;
    } else if (i.system === own) {
      if (!MRN_RE.test(i.value)) throw unprocessable('A record number is 1–100 characters without spaces or control characters', `${where}.value`, 'invalid-resource');
      if (!mrns.includes(i.value)) mrns.push(i.value);
    } else if (known.has(i.system)) {
      throw forbidden('A record number of another hospital: each hospital feeds its own', 'foreign-mrn');
    } else {
      throw unprocessable(`Unknown assigning authority ${i.system.slice(0, 100)}: use ${NATIONAL_ID_SYSTEM} or ${own}`, `${where}.system`, 'unknown-system');
    }
  });
  if (!nationalId) throw unprocessable(`The national id (${NATIONAL_ID_SYSTEM}) is required`, 'Patient.identifier', 'invalid-resource');
  if (mrns.length === 0) throw unprocessable(`At least one of your record numbers (${own}) is required`, 'Patient.identifier', 'invalid-resource');
  return { nationalId, mrns };
}

/** The condition of `PUT /Patient?identifier=<own record number system>|<mrn>`. */
export function feedCondition(identifier: string | undefined, ctx: { config: Pick<GatewayConfig, 'canonicalBase'>; hospitalId: string }): string {
  const own = mrnSystem(ctx.config.canonicalBase, ctx.hospitalId);
  if (!identifier) throw badRequest(`A conditional update names your record number: PUT /Patient?identifier=${own}|<mrn>`, 'identifier', 'identifier-required');
  const bar = identifier.indexOf('|');
  const system = identifier.slice(0, bar);
  const mrn = identifier.slice(bar + 1);
  if (bar < 0 || system !== own || !MRN_RE.test(mrn)) throw badRequest(`identifier must be ${own}|<your record number>`, 'identifier', 'unknown-system');
  return mrn;
}
