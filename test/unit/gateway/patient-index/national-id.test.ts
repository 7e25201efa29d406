import fc from 'fast-check';
import { checkCharacter, demographicsFromNationalId, validateNationalId } from '../../../../gateway/patient-index/national-id';

describe('national id (GB 11643)', () => {
  test.each([
    ['11010519491231002X', true],
    ['440524188001010014', true],
    ['350203199001010018', true],
    ['350503198506150026', true],
    ['350602197703080033', true],
    ['11010519491231002x', true], // lower-case x is X
    ['350203199001010019', false], // wrong check digit
    ['35020319900101001', false], // 17 characters
    ['3502031990010100188', false], // 19 characters
    ['35020319900230001X', false], // 30 February
    ['3502031990010100A8', false],
    ['', false],
  ])('%s valid=%s', (id, ok) => {
    expect(validateNationalId(id).ok).toBe(ok);
  });

  test.each([
    ['350203199001010019', 'check-digit'],
    ['35020319900101001', 'format'],
    ['350203199013010018', 'birth-date'],
  ])('%s → problem %s', (id, problem) => {
    const r = validateNationalId(id);
    expect(r).toEqual({ ok: false, problem });
  });

  test('retired Xiamen and Zhangzhou address codes are accepted', () => {
    for (const prefix of ['350202', '350204', '350625']) {
      const first17 = `${prefix}19560214123`;
      expect(validateNationalId(first17 + checkCharacter(first17)).ok).toBe(true);
    }
  });

  test('every id made with its check character validates, and changing any digit breaks it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999 }), fc.date({ min: new Date('1900-01-01'), max: new Date('2025-12-31'), noInvalidDate: true }), fc.integer({ min: 0, max: 16 }), (seq, birth, pos) => {
        const d = birth.toISOString().slice(0, 10).replace(/-/g, '');
        const first17 = `350203${d}${String(seq).padStart(3, '0')}`;
        const id = first17 + checkCharacter(first17);
        expect(validateNationalId(id).ok).toBe(true);
        const changed = id.slice(0, pos) + String((Number(id[pos]) + 1) % 10) + id.slice(pos + 1);
        const r = validateNationalId(changed);
        expect(r.ok).toBe(false);
      }),
    );
  });

  test('birth date and sex come from the id', () => {
    expect(demographicsFromNationalId('350203199001010018')).toEqual({ birthDate: '1990-01-01', gender: 'male' });
    expect(demographicsFromNationalId('350503198506150026')).toEqual({ birthDate: '1985-06-15', gender: 'female' });
  });
});
