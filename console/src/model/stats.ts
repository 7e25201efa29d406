import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { orgId } from './hospitals';

/** `GET /$recognition-stats` (gateway/recognition/stats-operation.ts) read into figures. Pure. */

export interface Figures {
  decisions: number;
  accepted: number;
  retested: number;
  /** 0–1; absent without decisions */
  rate?: number;
  /** yuan */
  cost: number;
}

export interface StatsGroup extends Figures {
  key: string;
  label: string;
}

export interface RecognitionStats extends Figures {
  from?: string;
  to?: string;
  reasons: Array<{ reason: string; count: number }>;
  byHospital: StatsGroup[];
  byResultHospital: StatsGroup[];
  byItem: StatsGroup[];
  byMonth: StatsGroup[];
}

function figures(parts: readonly ParametersParameter[]): Figures {
  const get = (name: string) => parts.find((p) => p.name === name);
  const rate = get('recognitionRate')?.valueDecimal;
  return {
    decisions: get('decisions')?.valueInteger ?? 0,
    accepted: get('accepted')?.valueInteger ?? 0,
    retested: get('retested')?.valueInteger ?? 0,
    ...(typeof rate === 'number' ? { rate } : {}),
    cost: get('costAvoided')?.valueMoney?.value ?? 0,
  };
}

export function parseStats(p: Parameters): RecognitionStats {
  const params = p.parameter ?? [];
  const group = (name: string, key: (part: ParametersParameter) => { key: string; label: string }): StatsGroup[] =>
    params
      .filter((x) => x.name === name)
      .map((x) => {
        const parts = x.part ?? [];
        const head = parts[0];
        return { ...(head ? key(head) : { key: '', label: '' }), ...figures(parts) };
      });
  const hospital = (part: ParametersParameter) => {
    const ref = part.valueReference;
    const id = orgId(ref?.reference) ?? ref?.reference ?? '';
    return { key: id, label: ref?.display ?? id };
  };
  const from = params.find((x) => x.name === 'from')?.valueInstant;
  const to = params.find((x) => x.name === 'to')?.valueInstant;
  return {
    ...figures(params),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    reasons: params
      .filter((x) => x.name === 'retestedReason')
      .map((x) => ({ reason: x.part?.find((q) => q.name === 'reason')?.valueCode ?? '', count: x.part?.find((q) => q.name === 'count')?.valueInteger ?? 0 })),
    byHospital: group('byHospital', hospital),
    byResultHospital: group('byResultHospital', hospital),
    byItem: group('byItem', (part) => ({ key: part.valueCoding?.code ?? '', label: part.valueCoding?.display ?? part.valueCoding?.code ?? '' })),
    byMonth: group('byMonth', (part) => ({ key: part.valueString ?? '', label: part.valueString ?? '' })),
  };
}
