import { NAMESPACE_PATTERN } from '../config/config.ts';
import { TENANT_PATTERN } from '../auth/keys.ts';

/**
 * The Redis key prefix of one tenant: `<namespace>:{<tenant>}:`. The hash tag keeps a tenant's
 * keys in one slot so identity and profile updates stay atomic on Redis Cluster; namespace and
 * tenant are validated here, so no unchecked value ever becomes part of a key prefix.
 */
export function tenantPrefix(namespace: string, tenant: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant ${JSON.stringify(tenant)}`);
  return `${namespace}:{${tenant}}:`;
}
