import { useState } from 'preact/hooks';
import { checkNationalId } from '../../model/national-id';
import { DateField, FieldError, NationalIdField, nationalIdProblem, SubmitButton } from '../common/fields';
import { Segmented } from '../common/segmented';
import { useI18n } from '../context';

export type PatientQuery = { kind: 'id'; nationalId: string } | { kind: 'name'; name: string; birthDate: string };

/**
 * Find a patient by national id (checked here first, check digit included) or by name and birth
 * date. The form never submits to the address bar: the query goes to the API in a POST body.
 */
export function PatientSearch(props: { busy: boolean; onSearch: (q: PatientQuery) => void }) {
  const { t } = useI18n();
  const [mode, setMode] = useState<'id' | 'name'>('id');
  const [nationalId, setNationalId] = useState('');
  const [name, setName] = useState('');
  const [birthDate, setBirthDate] = useState('');
  const [problem, setProblem] = useState<string | undefined>();

  const submit = (e: Event) => {
    e.preventDefault();
    if (mode === 'id') {
      const checked = checkNationalId(nationalId);
      if (!checked.ok) return setProblem(nationalIdProblem(t, checked.problem));
      setProblem(undefined);
      props.onSearch({ kind: 'id', nationalId: checked.id });
    } else {
      if (!name.trim() || !birthDate) return setProblem(t('search.nameRequired'));
      setProblem(undefined);
      props.onSearch({ kind: 'name', name: name.trim(), birthDate });
    }
  };

  return (
    <form class="card search-card" onSubmit={submit} method="post" autocomplete="off" aria-labelledby="patient-search-title" noValidate>
      <h2 id="patient-search-title" class="card-title">
        {t('search.title')}
      </h2>
      <Segmented
        name="search-mode"
        label={t('search.mode.label')}
        options={[
          { value: 'id', text: t('search.byId') },
          { value: 'name', text: t('search.byName') },
        ]}
        value={mode}
        onChange={(m) => {
          setMode(m);
          setProblem(undefined);
        }}
      />
      <div class="form-row">
        {mode === 'id' ? (
          <NationalIdField id="national-id" t={t} inputMode="text" invalid={Boolean(problem)} value={nationalId} onChange={setNationalId} />
        ) : (
          <>
            <div class="field">
              <label for="patient-name">{t('search.name')}</label>
              <input id="patient-name" class="input" maxLength={40} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
            </div>
            <DateField id="patient-birth-date" label={t('search.birthDate')} value={birthDate} onChange={setBirthDate} />
          </>
        )}
        <div class="field field-action">
          <SubmitButton busy={props.busy} text={t('search.submit')} busyText={t('search.searching')} />
        </div>
      </div>
      <FieldError problem={problem} />
    </form>
  );
}
