import { errorForLog } from '../../../gateway/log-safe';

describe('errors in the process log carry no patient data', () => {
  test.each([
    [
      Object.assign(new Error("insert into `patients` (`national_id`) values ('350203199001010018') - SQLITE_CONSTRAINT: UNIQUE constraint failed: patients.national_id"), { code: 'SQLITE_CONSTRAINT' }),
      { type: 'Error', code: 'SQLITE_CONSTRAINT', message: 'SQLITE_CONSTRAINT: UNIQUE constraint failed: patients.national_id' },
    ],
    [new Error('no such value 35020319900101001X here'), { type: 'Error', code: undefined, message: '[redacted]' }],
    [new TypeError('x is undefined'), { type: 'TypeError', code: undefined, message: 'x is undefined' }],
    [undefined, { type: undefined, code: undefined, message: undefined }],
  ])('%#', (e, expected) => {
    const out = errorForLog(e);
    expect(out).toEqual(expected);
    expect(JSON.stringify(out)).not.toMatch(/3502031990/);
  });
});
