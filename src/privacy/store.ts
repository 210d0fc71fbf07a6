import type { PulseEvent } from '../collection/event.ts';
import type { ConsentRecord } from './consent.ts';

/** A denied event whose TC string decoded: the refusal to keep on the person's profile. */
export interface ConsentRefusal {
  readonly event: PulseEvent;
  readonly record: ConsentRecord;
}

/** What the consent gate needs from the profile state (Redis in practice). */
export interface ConsentStore {
  /**
   * Stores each refusal as the `$consent` trait (last-write-wins by event time) of the profile
   * its event's identifiers already resolve to; creates and links nothing. Returns how many
   * refusals found a profile, and the profiles whose stored consent changed.
   */
  recordRefusals(tenant: string, refusals: readonly ConsentRefusal[]): Promise<{ found: number; changed: string[] }>;
}
