import type { Patient } from '@medplum/fhirtypes';
import { summarisePatient } from '../../model/patient';
import { useI18n } from '../context';

/** More than one patient matched: the person picks one, each shown by regional id and birth date (and gender, when asked). */
export function PatientPickList(props: { patients: readonly Patient[]; onPick: (patient: Patient) => void; withGender?: boolean }) {
  const { t } = useI18n();
  return (
    <div class="card">
      <p>{t('search.pick')}</p>
      <ul class="pick-list">
        {props.patients.map((p) => {
          const s = summarisePatient(p);
          const gender = props.withGender && s.gender ? t(`patient.gender.${s.gender}` as 'patient.gender.male') : '';
          return (
            <li key={s.regionalId}>
              <button type="button" class="btn btn-light" onClick={() => props.onPick(p)}>
                {[s.regionalId, s.birthDate, gender].filter(Boolean).join(' · ')}
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
