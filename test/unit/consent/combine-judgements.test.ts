import type { ResultFacts } from '../../../consent/contract';
import { combineJudgements, type AccessReason, type ConsentJudgement } from '../../../consent/consent-decision';

/**
 * Consent of merged identities (docs/consent.md §13), one row per rule: who takes a position, and
 * the stricter of the positions where they differ.
 */
const lab: ResultFacts = { resourceType: 'DiagnosticReport', hospitalId: 'xm-zsh', securityLabels: [] };
const imaging: ResultFacts = { resourceType: 'ImagingStudy', hospitalId: 'xm-zsh', securityLabels: [] };

/** A judgement that permits the access (or not) and releases the result types listed. */
const j = (permit: boolean, reason: AccessReason, releases: string[]): ConsentJudgement => ({
  access: { permit, breakGlassOnly: reason === 'break-glass', reason, consentIds: [reason] },
  judge: (f) => (permit && releases.includes(f.resourceType) ? { permit: true, reason: 'consent-permit', breakGlass: false } : { permit: false, reason: 'consent-deny', breakGlass: false }),
});

const ALL = j(true, 'consent', ['DiagnosticReport', 'ImagingStudy']);
const LAB_ONLY = j(true, 'consent', ['DiagnosticReport']);
const NOT_YOU = j(false, 'no-consent', []);
const DEFAULT_DENY = j(false, 'no-consent', []);
const DEFAULT_PERMIT = j(true, 'default-permit', ['DiagnosticReport', 'ImagingStudy']);

describe('combineJudgements', () => {
  test.each<[string, Array<[ConsentJudgement, boolean]>, boolean, [boolean, boolean]]>([
    ['one identity: its own judgement', [[LAB_ONLY, true]], true, [true, false]],
    ['none has consents: the survivor’s default (deny)', [[DEFAULT_DENY, false], [DEFAULT_DENY, false]], false, [false, false]],
    ['none has consents: the survivor’s default (permit)', [[DEFAULT_PERMIT, false], [DEFAULT_PERMIT, false]], true, [true, true]],
    ['only the merged one has consents: its position holds', [[DEFAULT_DENY, false], [ALL, true]], true, [true, true]],
    ['only the survivor has consents: its position holds', [[LAB_ONLY, true], [DEFAULT_DENY, false]], true, [true, false]],
    ['both permit: a result needs both (lab only ∩ all)', [[ALL, true], [LAB_ONLY, true]], true, [true, false]],
    ['one’s consents do not name the asker: refused', [[ALL, true], [NOT_YOU, true]], false, [false, false]],
    ['the same the other way round', [[NOT_YOU, true], [ALL, true]], false, [false, false]],
  ])('%s', (_what, identities, access, [labReleased, imagingReleased]) => {
    const c = combineJudgements(identities.map(([judgement, hasConsents]) => ({ judgement, hasConsents })));
    expect(c.access.permit).toBe(access);
    expect(c.judge(lab).permit).toBe(labReleased);
    expect(c.judge(imaging).permit).toBe(imagingReleased);
  });

  test('the consents of every identity taking a position are named', () => {
    const c = combineJudgements([{ judgement: ALL, hasConsents: true }, { judgement: LAB_ONLY, hasConsents: true }]);
    expect(c.access.consentIds).toEqual(['consent', 'consent']);
  });
});
