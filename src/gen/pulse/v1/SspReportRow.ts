// Original file: proto/pulse/v1/inventory.proto

import type { Long } from '@grpc/proto-loader';

export interface SspReportRow {
  'ssp'?: (string);
  'placementId'?: (string);
  /**
   * UTC day, YYYY-MM-DD.
   */
  'day'?: (string);
  /**
   * Bid requests seen. Outcomes carry no request kind, so each distinct auction_id with a bid,
   * win or loss counts as one request.
   */
  'requests'?: (number | string | Long);
  'bids'?: (number | string | Long);
  'wins'?: (number | string | Long);
  'impressions'?: (number | string | Long);
  /**
   * wins / requests.
   */
  'fillRate'?: (number | string);
  /**
   * wins / bids.
   */
  'winRate'?: (number | string);
  /**
   * Average clearing price of the wins (CPM).
   */
  'ecpm'?: (number | string);
  /**
   * Sum of clearing prices / 1000 (the revenue of the wins).
   */
  'revenue'?: (number | string);
}

export interface SspReportRow__Output {
  'ssp': (string);
  'placementId': (string);
  /**
   * UTC day, YYYY-MM-DD.
   */
  'day': (string);
  /**
   * Bid requests seen. Outcomes carry no request kind, so each distinct auction_id with a bid,
   * win or loss counts as one request.
   */
  'requests': (string);
  'bids': (string);
  'wins': (string);
  'impressions': (string);
  /**
   * wins / requests.
   */
  'fillRate': (number);
  /**
   * wins / bids.
   */
  'winRate': (number);
  /**
   * Average clearing price of the wins (CPM).
   */
  'ecpm': (number);
  /**
   * Sum of clearing prices / 1000 (the revenue of the wins).
   */
  'revenue': (number);
}
