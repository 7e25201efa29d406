import { Readable } from 'node:stream';
import type { ImagingStudy } from '@medplum/fhirtypes';
import { acceptFor, isDicomUid, parseFrames, ReplaceStream, wadoPath } from '../../../../gateway/dicomweb/wado-path';
import { attachDicomwebEndpoint, studyUidOf } from '../../../../gateway/dicomweb/endpoint';

describe('DICOM UIDs, frames and WADO-RS paths', () => {
  test.each([
    ['1.2.840.10008.5.1.4.1.1.2', true],
    ['2.25.329800735698586629295641978511506172918', true],
    ['0.1', true],
    ['1', false], // one component
    ['01.2', false], // leading zero
    ['1..2', false],
    ['1.2.', false],
    ['1.2.x', false],
    ['../1.2', false],
    ['1.2/3', false],
    [`1.${'2'.repeat(63)}`, false], // 65 characters
    ['', false],
  ])('isDicomUid(%j) = %s', (uid, ok) => expect(isDicomUid(uid)).toBe(ok));

  test('frame lists', () => {
    expect(parseFrames('1')).toEqual([1]);
    expect(parseFrames('1,3,5')).toEqual([1, 3, 5]);
    for (const bad of ['0', '1,', ',1', '1;2', '-1', '1.5', 'a', '']) expect(parseFrames(bad)).toBeUndefined();
  });

  test('the path below a PACS base is built from the validated parts only', () => {
    expect(wadoPath({ study: '1.2', kind: 'instances' })).toBe('/studies/1.2');
    expect(wadoPath({ study: '1.2', series: '1.2.1', kind: 'metadata' })).toBe('/studies/1.2/series/1.2.1/metadata');
    expect(wadoPath({ study: '1.2', series: '1.2.1', instance: '1.2.1.1', frames: [1, 2], kind: 'rendered' })).toBe('/studies/1.2/series/1.2.1/instances/1.2.1.1/frames/1,2/rendered');
  });

  test('Accept is narrowed to what each kind of retrieval may be', () => {
    expect(acceptFor({ study: '1.2', kind: 'rendered' })).toBe('image/jpeg');
    expect(acceptFor({ study: '1.2', kind: 'rendered', accept: 'image/png, */*' })).toBe('image/png');
    expect(acceptFor({ study: '1.2', kind: 'rendered', accept: 'text/html' })).toBe('image/jpeg');
    expect(acceptFor({ study: '1.2', kind: 'metadata', accept: 'application/xml' })).toBe('application/dicom+json');
    expect(acceptFor({ study: '1.2', kind: 'instances' })).toBe('multipart/related; type="application/dicom"');
    expect(acceptFor({ study: '1.2', series: '1', instance: '2', frames: [1], kind: 'instances' })).toBe('multipart/related; type="application/octet-stream"');
  });
});

describe('ReplaceStream: PACS addresses rewritten however the chunks fall', () => {
  const run = async (chunks: string[], from: string, to: string) => {
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks.map((s) => Buffer.from(s))).pipe(new ReplaceStream(from, to))) out.push(c as Buffer);
    return Buffer.concat(out).toString();
  };
  const from = 'http://pacs:8042/dicom-web/studies/';
  const to = 'https://gw/dicomweb/h.1/studies/';
  const text = `[{"a":"${from}1.2/bulk"},{"b":"${from}1.3"}] tail`;

  test.each([1, 2, 7, 13, 40, 1000])('in chunks of %d bytes', async (n) => {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += n) chunks.push(text.slice(i, i + n));
    expect(await run(chunks, from, to)).toBe(text.split(from).join(to));
  });

  test('text without the address passes unchanged, an almost-match too', async () => {
    expect(await run(['{"x": "http://pacs:8042/dicom-web/stud', 'y"}'], from, to)).toBe('{"x": "http://pacs:8042/dicom-web/study"}');
  });
});

describe('ImagingStudy.endpoint', () => {
  test('a study with a UID gets a contained WADO-RS Endpoint at its own base; one without gets none', () => {
    const s: ImagingStudy = { resourceType: 'ImagingStudy', id: 'h.A1', status: 'available', subject: { reference: 'Patient/p' }, identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' }] };
    expect(studyUidOf(s)).toBe('1.2.3');
    attachDicomwebEndpoint(s, 'https://gw');
    attachDicomwebEndpoint(s, 'https://gw'); // once only
    expect(s.endpoint).toEqual([{ reference: '#dicomweb' }]);
    expect(s.contained).toHaveLength(1);
    expect(s.contained![0]).toMatchObject({ resourceType: 'Endpoint', address: 'https://gw/dicomweb/h.A1' });
    const none: ImagingStudy = { resourceType: 'ImagingStudy', id: 'h.B', status: 'available', subject: { reference: 'Patient/p' } };
    attachDicomwebEndpoint(none, 'https://gw');
    expect(none.endpoint).toBeUndefined();
  });
});
