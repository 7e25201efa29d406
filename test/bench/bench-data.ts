import type { Resource } from '@medplum/fhirtypes';
import { checkCharacter, NATIONAL_ID_SYSTEM } from '../../gateway/patient-index/national-id';

/** Bench patients: a light one (a few results per hospital) and a heavy one (~500 results over 6 hospitals). */
export const LIGHT_NID = withCheck('35020319800101001');
export const HEAVY_NID = withCheck('35050319750505002');

function withCheck(first17: string): string {
  return first17 + checkCharacter(first17);
}

const LAB = [
  { panel: '58410-2', name: 'CBC panel', analytes: [['718-7', 'Hemoglobin', 'g/L', 135], ['6690-2', 'WBC', '10*9/L', 6.1], ['777-3', 'Platelets', '10*9/L', 210]] },
  { panel: '24326-1', name: 'Electrolytes panel', analytes: [['2823-3', 'Potassium', 'mmol/L', 4.1], ['2951-2', 'Sodium', 'mmol/L', 140]] },
  { panel: '24325-3', name: 'Hepatic function panel', analytes: [['1742-6', 'ALT', 'U/L', 25], ['1920-8', 'AST', 'U/L', 22]] },
] as const;

/** One hospital's FHIR resources for the bench patients: `light` reports for one, `heavy` for the other. */
export function benchResources(tag: string, light: number, heavy: number, anchor = Date.now()): Resource[] {
  const out: Resource[] = [];
  const patients: Array<[string, string, number]> = [
    [`pl-${tag}`, LIGHT_NID, light],
    [`ph-${tag}`, HEAVY_NID, heavy],
  ];
  for (const [pid, nid, n] of patients) {
    out.push({ resourceType: 'Patient', id: pid, identifier: [{ system: NATIONAL_ID_SYSTEM, value: nid }, { system: `urn:bench:mrn:${tag}`, value: `MR${pid}` }] } as Resource);
    for (let i = 0; i < n; i++) {
      const lab = LAB[i % LAB.length];
      const when = new Date(anchor - (i * 3 + 1) * 86_400_000).toISOString();
      const obsIds: string[] = [];
      lab.analytes.forEach(([code, display, unit, value], j) => {
        const id = `o-${pid}-${i}-${j}`;
        obsIds.push(id);
        out.push({
          resourceType: 'Observation',
          id,
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code, display }] },
          subject: { reference: `Patient/${pid}` },
          effectiveDateTime: when,
          valueQuantity: { value: Number(value) + (i % 5), unit, system: 'http://unitsofmeasure.org', code: unit },
          referenceRange: [{ low: { value: Number(value) * 0.7, unit }, high: { value: Number(value) * 1.3, unit } }],
        } as Resource);
      });
      out.push({
        resourceType: 'DiagnosticReport',
        id: `r-${pid}-${i}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: lab.panel, display: lab.name }] },
        subject: { reference: `Patient/${pid}` },
        effectiveDateTime: when,
        issued: when,
        result: obsIds.map((id) => ({ reference: `Observation/${id}` })),
      } as Resource);
    }
  }
  return out;
}
