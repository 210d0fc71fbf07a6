import { NAMESPACE_PATTERN } from '../config/config.ts';
import type { PulseEvent } from '../collection/event.ts';

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
      INDEX idx_message_id message_id TYPE bloom_filter GRANULARITY 4
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant, type, event, timestamp, message_id)`,
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
  };
}

const READ_ONLY_START = /^\s*(select|with|show|describe|desc|exists|explain)\b/i;

/**
 * Refuses anything but one read-only statement: the `pulse sql` command and its HTTP endpoint
 * must not be a way to change the warehouse. The engine is also asked for readonly mode where it
 * supports a per-query setting.
 */
export function readOnlyProblem(sql: string): string | undefined {
  const trimmed = sql.trim().replace(/;\s*$/, '');
  if (trimmed === '') return 'empty query';
  if (!READ_ONLY_START.test(trimmed)) return 'only SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN queries are allowed';
  if (/;/.test(trimmed.replace(/'(?:[^'\\]|\\.)*'/g, "''"))) return 'one statement at a time';
  if (/\b(into\s+outfile|insert\s+into)\b/i.test(trimmed)) return 'the query writes: refused';
  return undefined;
}
