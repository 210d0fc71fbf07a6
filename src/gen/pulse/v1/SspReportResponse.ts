// Original file: proto/pulse/v1/inventory.proto

import type { SspReportRow as _pulse_v1_SspReportRow, SspReportRow__Output as _pulse_v1_SspReportRow__Output } from '../../pulse/v1/SspReportRow.js';

export interface SspReportResponse {
  /**
   * Sorted by ssp, placement, day.
   */
  'rows'?: (_pulse_v1_SspReportRow)[];
}

export interface SspReportResponse__Output {
  /**
   * Sorted by ssp, placement, day.
   */
  'rows': (_pulse_v1_SspReportRow__Output)[];
}
