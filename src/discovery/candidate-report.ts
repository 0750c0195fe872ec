/** The owner whose own network an answer address lies in (network attribution). */
export interface NetworkEvidence {
  readonly owner: string;
  readonly country: string;
  /** The AS the address lies in, one the owners file gives this owner. */
  readonly asn: number | null;
}

/** A watch-listed country (and AS) an answer address of the name is hosted in. */
export interface HostingEvidence {
  readonly country: string;
  readonly asn: number | null;
}

/** A catalogued app whose names a device asked shortly before this name, and how often. */
export interface FollowEvidence {
  readonly app: string;
  readonly count: number;
}

/**
 * What one worker saw of one candidate name since its last report: a DNS worker counts
 * and ships these, the primary merges them into the discovery queue. `clients` are client
 * addresses (at most a few): the primary turns them into device keys and never shows them.
 */
export interface CandidateReport {
  readonly name: string;
  readonly queries: number;
  /** Epoch ms. */
  readonly first_seen: number;
  readonly last_seen: number;
  readonly clients: readonly string[];
  readonly follows: readonly FollowEvidence[];
  readonly network: NetworkEvidence | null;
  readonly hosting: readonly HostingEvidence[];
}

/** A worker's reports since the last, over the IPC channel; `overflow` counts names its table had no room for. */
export interface DiscoveryReportMessage {
  readonly type: 'discovery';
  readonly reports: readonly CandidateReport[];
  readonly overflow: number;
}
