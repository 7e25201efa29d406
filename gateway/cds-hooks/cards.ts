import type { Observation } from '@medplum/fhirtypes';
import { CITY_NAMES_ZH } from '../config';
import type { CatalogItem } from '../recognition/contract';
import { RETEST_REASONS, type RetestReason } from '../recognition/decision-store';
import { membersOf } from '../recognition/recognition-context';
import type { Judged } from '../recognition/recognition-operation';

/**
 * CDS Hooks 2.0 cards (https://cds-hooks.hl7.org/2.0/#card-attributes) for results the ordering
 * hospital may recognise instead of ordering the test again (pure). Chinese first: the summary is
 * what the clinician reads in the order screen.
 */

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface Card {
  uuid: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; topic?: Coding };
  suggestions?: Array<{ label: string; uuid: string; isRecommended?: boolean; actions: Array<{ type: 'delete'; description: string; resourceId: string[] }> }>;
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: Array<{ label: string; url: string; type: 'absolute' | 'smart' }>;
}

export const RETEST_REASON_DISPLAY: Record<RetestReason, string> = {
  'condition-changed': '病情变化，需重新检查',
  emergency: '急诊抢救',
  'quality-doubt': '对结果质量存疑',
  'patient-request': '患者要求复查',
  other: '其他原因',
};
const ABNORMAL = new Set(['H', 'HH', 'HU', 'L', 'LL', 'LU', 'A', 'AA', 'POS', 'DET']);
const DAY_MS = 86_400_000;
// CDS Hooks 2.0: "<140-character summary"
const MAX_SUMMARY = 139;

export interface CardInput {
  uuid: string;
  suggestionUuid: string;
  item: CatalogItem;
  judged: Judged;
  /** the draft order the card is about, `ServiceRequest/<id>` */
  orderRef?: string;
  hospital: { name: string; city: string };
  /** the result's member observations, by `Observation/<id>` */
  observations: ReadonlyMap<string, Observation>;
  publicBaseUrl: string;
  canonicalBase: string;
  now: Date;
}

/** "今天" / "3 天前": when the result was taken, as the order screen says it. */
export function whenText(time: number, now: Date): string {
  const days = Math.floor((now.getTime() - time) / DAY_MS);
  return days <= 0 ? '今天' : `${days} 天前`;
}

const isAbnormal = (o: Observation) => (o.interpretation ?? []).some((i) => i.coding?.some((c) => c.code && ABNORMAL.has(c.code.toUpperCase())));

function valueText(o: Observation): string {
  const q = o.valueQuantity;
  if (q?.value !== undefined) return `${q.value}${q.unit ? ` ${q.unit}` : ''}`;
  return o.valueString ?? o.valueCodeableConcept?.text ?? o.valueCodeableConcept?.coding?.[0]?.display ?? '—';
}

function rangeText(o: Observation): string {
  const r = o.referenceRange?.[0];
  if (!r) return '';
  if (r.text) return r.text;
  const lo = r.low?.value;
  const hi = r.high?.value;
  return lo !== undefined && hi !== undefined ? `${lo}–${hi}` : lo !== undefined ? `≥ ${lo}` : hi !== undefined ? `≤ ${hi}` : '';
}

/** Markdown cells must not break the table or inject markup. */
const cell = (s: string) => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\s+/g, ' ').slice(0, 80);

export function recognitionCard(input: CardInput): Card {
  const { item, judged, hospital, now } = input;
  const r = judged.found.resource;
  // The short form the order screen has room for: 厦门 for 厦门市.
  const city = CITY_NAMES_ZH[hospital.city]?.replace(/市$/, '') ?? hospital.city;
  const members = membersOf(r, input.observations);
  const abnormal = members.some(isAbnormal) || (r.resourceType === 'Observation' && isAbnormal(r as Observation));
  let summary = `${item.display} ${whenText(judged.time, now)}已在 ${hospital.name}（${city}）完成，可互认`;
  if (summary.length > MAX_SUMMARY) summary = `${summary.slice(0, MAX_SUMMARY - 1)}…`;
  const days = judged.validUntil ? Math.max(0, Math.floor((judged.validUntil.getTime() - now.getTime()) / DAY_MS)) : undefined;
  const lines = [
    `**${item.display}** · ${hospital.name}（${city}） · ${new Date(judged.time).toISOString().slice(0, 10)}`,
    '',
    days !== undefined ? `互认有效期还剩 **${days} 天**（至 ${judged.validUntil!.toISOString().slice(0, 10)}）。` : '',
  ];
  if (members.length) {
    lines.push('', '| 项目 | 结果 | 参考范围 |', '|---|---|---|');
    for (const o of members.slice(0, 12)) {
      const name = o.code?.text ?? o.code?.coding?.[0]?.display ?? o.code?.coding?.[0]?.code ?? '';
      lines.push(`| ${cell(name)} | ${cell(valueText(o))}${isAbnormal(o) ? ' ⚠' : ''} | ${cell(rangeText(o))} |`);
    }
  }
  if (abnormal) lines.push('', '⚠ 结果中有异常值，请结合临床判断。');
  const resultUrl = `${input.publicBaseUrl}/${r.resourceType}/${r.id}`;
  const card: Card = {
    uuid: input.uuid,
    summary,
    detail: lines.join('\n').replace(/\n{3,}/g, '\n\n').trim(),
    indicator: abnormal ? 'warning' : 'info',
    source: {
      label: '厦漳泉检查检验结果互认',
      url: input.publicBaseUrl,
      topic: { system: `${input.canonicalBase}/CodeSystem/recognition-item`, code: item.code, display: item.display },
    },
    overrideReasons: RETEST_REASONS.map((code) => ({ system: `${input.canonicalBase}/CodeSystem/retest-reason`, code, display: RETEST_REASON_DISPLAY[code] })),
    links: [{ label: '查看该结果', url: resultUrl, type: 'absolute' }],
  };
  if (input.orderRef) {
    card.suggestions = [
      {
        label: '采用该结果（互认），撤销本次医嘱',
        uuid: input.suggestionUuid,
        isRecommended: true,
        actions: [{ type: 'delete', description: `撤销草稿医嘱：${item.display}`, resourceId: [input.orderRef] }],
      },
    ];
    card.selectionBehavior = 'at-most-one';
  }
  return card;
}
