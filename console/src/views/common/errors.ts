import { ApiError } from '../../api/fhir-client';
import type { MessageKey, Translate } from '../../i18n';

/** An API failure as a sentence in the console's language, with what the gateway itself said beside it. */
export interface ErrorText {
  message: string;
  gateway?: string;
  status: number;
  code?: string;
}

const BY_CODE: Record<string, MessageKey> = {
  'consent-required': 'refusal.consent',
  'consent-withheld': 'refusal.withheld',
  forbidden: 'refusal.forbidden',
  'invalid-national-id': 'error.invalidId',
  // the access report's refusals (docs/audit.md §6)
  'not-own-resident': 'error.notOwnResident',
  'invalid-period': 'error.invalidPeriod',
  'period-beyond-retention': 'error.periodBeyondRetention',
  'invalid-date': 'error.invalidDate',
};

export function errorText(t: Translate, e: unknown): ErrorText {
  if (!(e instanceof ApiError)) return { message: t('error.generic', { status: '?' }), status: 0 };
  if (e.status === 0) return { message: t('error.network'), status: 0 };
  const byCode = e.code ? BY_CODE[e.code] : undefined;
  const key: MessageKey =
    byCode ??
    (e.status === 401
      ? 'session.expired'
      : e.status === 403
        ? e.outcome?.issue?.[0]?.code === 'forbidden' && /consent/i.test(e.text ?? '')
          ? 'refusal.consent'
          : 'refusal.forbidden'
        : e.status === 404
          ? 'error.notFound'
          : e.status === 400 || e.status === 422
            ? 'error.badRequest'
            : e.status === 429
              ? 'error.tooMany'
              : e.status === 503
                ? 'error.unavailable'
                : 'error.generic');
  return { message: t(key, { status: e.status }), status: e.status, ...(e.text ? { gateway: e.text } : {}), ...(e.code ? { code: e.code } : {}) };
}

export const isConsentRefusal = (e: unknown) =>
  e instanceof ApiError && e.status === 403 && (e.code === 'consent-required' || (e.outcome?.issue?.[0]?.code === 'forbidden' && /consent/i.test(e.text ?? '')));
