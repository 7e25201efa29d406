import path from 'node:path';

/** Where the committed demo fixtures live. */
export const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');
export const HOSPITALS_DIR = path.join(FIXTURES, 'hospitals');
export const COMMITTED_ANCHOR = new Date('2026-11-29T00:00:00Z');
