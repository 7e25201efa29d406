import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the gateway exports on /metrics (API.md §8), in one registry per app. */
export function createMetrics() {
  const registry = new Registry();
  /** where the admission gauges read from (set once the gate exists: observeAdmission) */
  let admission: () => { limit: number; inFlight: number; waiting: number } = () => ({ limit: 0, inFlight: 0, waiting: 0 });
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    httpRequests: new Counter({
      name: 'xzq_http_requests_total',
      help: 'API requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'xzq_http_request_duration_seconds',
      help: 'API request latency by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'xzq_upstream_duration_seconds',
      help: 'Hospital adapter latency',
      labelNames: ['hospital', 'operation'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    upstreamFailures: new Counter({
      name: 'xzq_upstream_failures_total',
      help: 'Hospital adapter failures by kind',
      labelNames: ['hospital', 'kind'] as const,
      registers: [registry],
    }),
    circuitState: new Gauge({
      name: 'xzq_upstream_circuit_open',
      help: '1 when the circuit to a hospital is open',
      labelNames: ['hospital'] as const,
      registers: [registry],
    }),
    auditWriteDuration: new Histogram({
      name: 'xzq_audit_write_duration_seconds',
      help: 'Time to store audit events durably (per group commit)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    consentCache: new Counter({
      name: 'xzq_consent_cache_total',
      help: 'Consent judgements by where their inputs came from (hit: cached at the current consent epoch; miss: read)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    auditEvents: new Counter({
      name: 'xzq_audit_events_total',
      help: 'Audit events stored',
      registers: [registry],
    }),
    auditFailures: new Counter({
      name: 'xzq_audit_write_failures_total',
      help: 'Audit writes that failed (the request was refused with 503)',
      registers: [registry],
    }),
    auditCheckpoints: new Counter({
      name: 'xzq_audit_checkpoints_total',
      help: 'Signed audit checkpoints this instance made, by kind (interval, shutdown)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    auditCheckpointFailures: new Counter({
      name: 'xzq_audit_checkpoint_failures_total',
      help: 'Checkpoints that could not be made (stage checkpoint) or copied to the anchor (stage anchor); the next checkpoint retries',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    auditCheckpointsUnanchored: new Gauge({
      name: 'xzq_audit_checkpoints_unanchored',
      help: 'Checkpoints in the database this instance has not yet copied to its anchor',
      registers: [registry],
    }),
    auditCheckpointAlarm: new Gauge({
      name: 'xzq_audit_checkpoint_alarm',
      help: '1 when the database no longer agrees with the checkpoints (chain rewritten, rolled back, checkpoint altered): no new checkpoint is signed; run $verify',
      registers: [registry],
    }),
    auditLastCheckpoint: new Gauge({
      name: 'xzq_audit_last_checkpoint_timestamp_seconds',
      help: 'When the newest checkpoint this instance saw stored was made',
      registers: [registry],
    }),
    hl7FilesRejected: new Counter({
      name: 'xzq_hl7v2_files_rejected_total',
      help: 'HL7 v2 files that did not parse and were skipped',
      labelNames: ['hospital'] as const,
      registers: [registry],
    }),
    mllpMessages: new Counter({
      name: 'xzq_mllp_messages_total',
      help: 'HL7 v2 messages received over MLLP, by the acknowledgement they got (AA, AE, AR, duplicate)',
      labelNames: ['hospital', 'outcome'] as const,
      registers: [registry],
    }),
    cdaDocumentsRejected: new Counter({
      name: 'xzq_cda_documents_rejected_total',
      help: 'CDA documents that were not usable and were skipped',
      labelNames: ['hospital'] as const,
      registers: [registry],
    }),
    tokensIssued: new Counter({
      name: 'xzq_tokens_issued_total',
      help: 'Access tokens issued',
      registers: [registry],
    }),
    tokensRefused: new Counter({
      name: 'xzq_tokens_refused_total',
      help: 'Token requests refused by OAuth error',
      labelNames: ['error'] as const,
      registers: [registry],
    }),
    signIns: new Counter({
      name: 'xzq_sign_ins_total',
      help: 'Sign-in attempts of people at the authorization endpoint, by result (docs/users.md §5): a rise in failures is guessing',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    patientDataAccess: new Counter({
      name: 'xzq_patient_data_access_total',
      help: 'Reads of patient data through the guarded path (consent, labels, access record), by operation and view',
      labelNames: ['operation', 'view'] as const,
      registers: [registry],
    }),
    unreleasedRefused: new Counter({
      name: 'xzq_unreleased_patient_data_refused_total',
      help: 'Answers refused because they held patient data that did not come through the guarded path (a bug)',
      registers: [registry],
    }),
    // read when /metrics is scraped, so the request path sets nothing
    admissionLimit: new Gauge({
      name: 'xzq_admission_limit',
      help: 'How many requests that wait for admission this process works on at once now (gateway/http/admission.ts)',
      registers: [registry],
      collect() {
        this.set(admission().limit);
      },
    }),
    admissionInFlight: new Gauge({
      name: 'xzq_admission_in_flight',
      help: 'Requests admitted and not yet answered (gateway/http/admission.ts)',
      registers: [registry],
      collect() {
        this.set(admission().inFlight);
      },
    }),
    admissionWaiting: new Gauge({
      name: 'xzq_admission_waiting',
      help: 'Requests waiting their turn',
      registers: [registry],
      collect() {
        this.set(admission().waiting);
      },
    }),
    admissionAbandoned: new Counter({
      name: 'xzq_admission_abandoned_total',
      help: 'Requests whose client left while they waited (nothing read, nothing to audit)',
      registers: [registry],
    }),
    observeAdmission(current: () => { limit: number; inFlight: number; waiting: number }) {
      admission = current;
    },
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
