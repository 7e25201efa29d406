import { render } from 'preact';
import { FhirClient } from './api/fhir-client';
import { Session } from './auth/session';
import { storedLang } from './i18n';
import { App } from './views/app';
import './styles.css';

/** The console's entry: one session per tab, one API client on it, the app on #app. */
const session = new Session(storedLang);
const api = new FhirClient(session);

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App session={session} api={api} initialLang={storedLang()} />, root);
}
void session.start();
