import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { FhirClient } from '../api/fhir-client';
import type { ConsoleUser } from '../auth/smart-client';
import type { Session } from '../auth/session';
import { translator, type Lang, type Translate } from '../i18n';
import type { Hospital } from '../model/hospitals';

/** What every view may use: the language, the API, the session, the signed-in user and the hospitals. */

export interface I18n {
  lang: Lang;
  t: Translate;
}

export const I18nContext = createContext<I18n>({ lang: 'zh', t: translator('zh') });
export const useI18n = () => useContext(I18nContext);

export interface Services {
  api: FhirClient;
  session: Session;
  user: ConsoleUser;
  hospitals: ReadonlyMap<string, Hospital>;
}

export const ServicesContext = createContext<Services | undefined>(undefined);

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error('useServices outside the signed-in console');
  return s;
}
