import type { ConnectorStatus, SyncState } from './model.ts';

/** What a connector remembers, as read back. */
export interface StoredConnector {
  readonly state: SyncState;
  readonly status: ConnectorStatus;
  readonly nextRunAt: number | undefined;
}

/**
 * Where connectors keep their cursor and status, and the lease that lets one run at a time
 * (across processes) own a connector. Writes under a lease are fenced: they fail once the lease
 * is lost, so two runs never both advance a cursor.
 */
export interface ConnectorStore {
  read(tenant: string, id: string): Promise<StoredConnector>;
  /** Takes the lease for `ttlMs`; undefined when another run holds it. */
  acquire(tenant: string, id: string, ttlMs: number): Promise<string | undefined>;
  /** Writes state and/or status and renews the lease; false when the lease is no longer ours. */
  write(tenant: string, id: string, lease: string, ttlMs: number, update: { state?: SyncState; status?: ConnectorStatus }): Promise<boolean>;
  /** Writes a last update and gives the lease up. */
  release(tenant: string, id: string, lease: string, update: { state?: SyncState; status?: ConnectorStatus }): Promise<boolean>;
  /** Records when the scheduler will run the connector next (no lease needed). */
  setNextRun(tenant: string, id: string, at: number | undefined): Promise<void>;
}
