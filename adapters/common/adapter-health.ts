import type { AdapterStatus } from '../adapter';

/**
 * An adapter's last failure and its status report: one rule for every kind, so `/healthz` reads
 * the same from a FHIR server, an HL7 v2 inbox and a SQL view. The message is the adapter's own
 * words, never the hospital's payload.
 */
export class AdapterHealth {
  private last?: { message: string; at: string };

  failed(message: string, at: Date = new Date()): void {
    this.last = { message, at: at.toISOString() };
  }

  status(up: boolean, details?: Record<string, number | string>): AdapterStatus {
    const s: AdapterStatus = { state: up ? 'up' : 'down' };
    if (details) s.details = details;
    if (this.last) {
      s.lastError = this.last.message;
      s.lastErrorAt = this.last.at;
    }
    return s;
  }
}
