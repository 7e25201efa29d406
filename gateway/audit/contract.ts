import type { AccessRecord, Requester } from '../context';

/** The parts of an answered request the audit trail keeps (the HTTP layer's request fits it). */
export interface AuditedRequest {
  method: string;
  /** the request line as received (path and query) */
  originalUrl: string;
  body?: unknown;
  remoteAddress?: string;
  requester?: Requester;
  record: AccessRecord;
}

export interface AuditEntry {
  /** the matched route's interaction; absent for a request that matched none */
  route?: { interaction: string };
  req: AuditedRequest;
  status: number;
  /** the caller, when known (also for refused requests where the token named a client) */
  requester?: Requester;
  /** the client an unauthenticated request claimed (token endpoint) */
  claimedClientId?: string;
  at: Date;
}

export interface AuditService {
  /** build and durably store the AuditEvent(s) for one answered request; throws when it cannot */
  recordRequest(entry: AuditEntry): Promise<void>;
  /**
   * The chain head this instance committed last, as it computed it: the checkpoints check that the
   * database's chain still passes through it before signing a head read from the database.
   */
  lastCommittedHead(): { seq: number; hash: string } | undefined;
  close(): Promise<void>;
}
