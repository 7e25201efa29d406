import { errorResponse } from '../../../gateway/http/respond';
import { silentLogger } from '../../../gateway/logger';
import { isStoreUnavailable } from '../../../gateway/storage/db';

/**
 * The database being unreachable is a 503 the client may retry, never a 500 (issue #17: PostgreSQL
 * restarted or connections cut during load fail closed and recover without a restart).
 */
const pgError = (code: string, message: string) => Object.assign(new Error(`select * from "consents" where "patient_id" = $1 - ${message}`), { code });

describe('isStoreUnavailable', () => {
  test.each<[string, unknown]>([
    ['the server ended the session (pg_terminate_backend)', pgError('57P01', 'terminating connection due to administrator command')],
    ['the server is shutting down or starting', pgError('57P03', 'the database system is starting up')],
    ['connection failure', pgError('08006', 'connection failure')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['a socket reset under a query', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['the server refuses connections', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ["pg's own message for a cut connection", new Error('Connection terminated unexpectedly')],
    ['the pool cannot get a connection', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' })],
    ['wrapped as a cause', new Error('consent lookup failed', { cause: pgError('57P01', 'terminating connection') })],
  ])('%s → unavailable', (_case, e) => {
    expect(isStoreUnavailable(e)).toBe(true);
  });

  test.each<[string, unknown]>([
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error (a bug)', pgError('42601', 'syntax error at or near "selec"')],
    ['a serialization failure', pgError('40001', 'could not serialize access')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['not an error', 'oops'],
    ['nothing', undefined],
  ])('%s → not unavailable', (_case, e) => {
    expect(isStoreUnavailable(e)).toBe(false);
  });
});

describe('errorResponse of a database that cannot be reached', () => {
  test('503 OperationOutcome `unavailable` with Retry-After, and nothing of the statement', () => {
    const r = errorResponse(pgError('57P01', 'terminating connection due to administrator command'), silentLogger(), 'https://hie.example/fhir', 'req-1');
    expect(r.status).toBe(503);
    expect(r.headers).toEqual({ 'Retry-After': '2' });
    const body = r.body as { resourceType: string; issue: Array<{ code: string; details: { coding: Array<{ code: string; system: string }> } }> };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]).toMatchObject({ severity: 'error', code: 'transient' });
    expect(body.issue[0].details.coding[0]).toEqual({ code: 'unavailable', system: 'https://hie.example/fhir/CodeSystem/gateway-error' });
    expect(JSON.stringify(body)).not.toMatch(/consents|patient_id|terminating/);
  });

  test('any other error is still a 500 with no detail', () => {
    const r = errorResponse(new TypeError('boom'), silentLogger(), 'https://hie.example/fhir', 'req-2');
    expect(r.status).toBe(500);
  });
});
