import { NAMESPACE_PATTERN } from '../config/config.ts';
import type { PulseEvent } from '../collection/event.ts';
import { identifierKey } from '../identity/identifier.ts';

/** The warehouse database of a namespace: `pulse` by default. */
export function databaseOf(namespace: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  return namespace;
}

/**
 * DDL of the warehouse. Events are a ReplacingMergeTree on their full sort key, so a row written
 * twice by a redelivery collapses to one; the writer also skips rows it finds already written.
 */
export function schemaStatements(namespace: string): string[] {
  const db = databaseOf(namespace);
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.events (
      tenant LowCardinality(String),
      message_id String,
      type LowCardinality(String),
      event String,
      profile_id String,
      user_id String,
      anonymous_id String,
      timestamp DateTime64(3, 'UTC'),
      received_at DateTime64(3, 'UTC'),
      properties String,
      traits String,
      context String,
      identifiers Array(String),
      INDEX idx_message_id message_id TYPE bloom_filter GRANULARITY 4
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant, type, event, timestamp, message_id)`,
    // Every identifier the event carried (`type:id`), an alias's previousId included, which the
    // other columns do not keep: UnmergeProfile assigns events to sides by them.
    `ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS identifiers Array(String) AFTER context`,
    // Segment membership changes: who was in segment X at time T (ClickHouseMembershipHistory.membersAt).
    `CREATE TABLE IF NOT EXISTS ${db}.segment_membership (
      tenant LowCardinality(String),
      segment_id String,
      profile_id String,
      kind LowCardinality(String),
      version UInt64,
      at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (tenant, segment_id, profile_id, at, version, kind)`,
    // Every data-sharing agreement change: who (key fingerprint) changed which partner's access, from what to what.
    `CREATE TABLE IF NOT EXISTS ${db}.sharing_audit (
      tenant LowCardinality(String),
      partner String,
      at DateTime64(3, 'UTC'),
      key_id String,
      before_all UInt8,
      before_segments Array(String),
      after_all UInt8,
      after_segments Array(String),
      added Array(String),
      removed Array(String)
    ) ENGINE = MergeTree
    ORDER BY (tenant, partner, at)`,
    // Profile merges and refused merges (src/profiles): a replayed batch writes the same key, which collapses.
    `CREATE TABLE IF NOT EXISTS ${db}.profile_merges (
      tenant LowCardinality(String),
      survivor String,
      merged String,
      identifiers Array(String),
      message_id String,
      at DateTime64(3, 'UTC'),
      outcome LowCardinality(String),
      reason String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (tenant, message_id, outcome, merged, identifiers)`,
    `CREATE TABLE IF NOT EXISTS ${db}.trait_history (
      tenant LowCardinality(String),
      profile_id String,
      trait String,
      value String,
      source String,
      key_id String,
      message_id String,
      at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (tenant, profile_id, trait, at, message_id)`,
    // Keyed on (tenant, kind, id) alone and not partitioned by time, so a retried outcome collapses
    // whatever timestamp it carries (the writer also skips ids it finds already written).
    `CREATE TABLE IF NOT EXISTS ${db}.outcomes (
      tenant LowCardinality(String),
      kind LowCardinality(String),
      id String,
      auction_id String,
      campaign_id String,
      creative_id String,
      ssp LowCardinality(String),
      placement_id String,
      deal_id String,
      profile_id String,
      channel LowCardinality(String),
      timestamp DateTime64(3, 'UTC'),
      received_at DateTime64(3, 'UTC'),
      price Float64,
      currency LowCardinality(String),
      loss_reason UInt16
    ) ENGINE = ReplacingMergeTree
    ORDER BY (tenant, kind, id)`,
  ];
}

/** ClickHouse DateTime64(3) text for epoch milliseconds. */
export function chDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** One `events` row. */
export function eventRow(tenant: string, e: PulseEvent, profileId: string, receivedAt: number): Record<string, unknown> {
  return {
    tenant,
    message_id: e.messageId,
    type: e.type,
    event: e.event,
    profile_id: profileId,
    user_id: e.userId ?? '',
    anonymous_id: e.anonymousId ?? '',
    timestamp: chDateTime(e.timestamp),
    received_at: chDateTime(receivedAt),
    properties: JSON.stringify(e.properties),
    traits: JSON.stringify(e.traits),
    context: JSON.stringify(e.context),
    identifiers: e.identifiers.map(identifierKey),
  };
}

const READ_ONLY_START = /^\s*(select|with|show|describe|desc|exists|explain)\b/i;

/**
 * The statement with comments removed and every quoted string or identifier ('...', "...",
 * `...`) replaced by an empty one, so that what remains is only SQL structure. Returns undefined
 * when a quote or block comment is not closed.
 */
export function sqlSkeleton(sql: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      i = end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) return undefined;
        if (sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      out += `${c}${c}`;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * Refuses anything but one read-only statement: the `pulse sql` command and its HTTP endpoint
 * must not be a way to change the warehouse. The check reads the statement's structure with
 * strings, quoted identifiers and comments taken out, so no quoting trick hides a second
 * statement; a ClickHouse server is also asked to run the query with `readonly = 1`.
 */
export function readOnlyProblem(sql: string): string | undefined {
  const skeleton = sqlSkeleton(sql);
  if (skeleton === undefined) return 'unclosed quote or comment';
  const trimmed = skeleton.trim().replace(/;\s*$/, '');
  if (trimmed === '') return 'empty query';
  if (!READ_ONLY_START.test(trimmed)) return 'only SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN queries are allowed';
  if (trimmed.includes(';')) return 'one statement at a time';
  if (/\b(into\s+outfile|insert\s+into)\b/i.test(trimmed)) return 'the query writes: refused';
  return undefined;
}
