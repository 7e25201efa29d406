import { timeOrderedId } from '../../../../gateway/audit/audit-service';

describe('AuditEvent ids', () => {
  test('are UUIDs version 7: valid FHIR ids, unique, in the order they were made across milliseconds', async () => {
    const ids: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2000; i++) ids.push(timeOrderedId());
      await new Promise((r) => setTimeout(r, 3));
    }
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // the first 48 bits are the millisecond: ids of later milliseconds sort after earlier ones
    const ms = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    for (let i = 1; i < ids.length; i++) {
      expect(ms(ids[i])).toBeGreaterThanOrEqual(ms(ids[i - 1]));
      if (ms(ids[i]) > ms(ids[i - 1])) expect(ids[i] > ids[i - 1]).toBe(true);
    }
    expect(Math.abs(ms(ids.at(-1)!) - Date.now())).toBeLessThan(5000);
  });
});
