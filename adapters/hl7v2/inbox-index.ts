import type { Candidate as AnyCandidate } from '../common/report-index';
import type { OruReport } from './oru-parser';

/**
 * The HL7 v2 inbox's report index: the shared {@link ReportIndex} of adapters/common (also used
 * by the CDA adapter and by messages stored from MLLP), its candidates holding parsed ORU reports.
 */
export { ReportIndex as InboxIndex, supersedes, type StoredResult } from '../common/report-index';
export type Candidate = AnyCandidate<OruReport>;
