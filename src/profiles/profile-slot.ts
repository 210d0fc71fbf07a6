import { defineScript, type RedisClient, type Script } from '../infra/redis.ts';

const PRELUDE = new URL('./profile-prelude.lua', import.meta.url);

/**
 * A script that runs in one profile's slot of the per-profile layout (KEYS[1] = the profile prefix
 * `<ns>:{<tenant>:<pid>}:`), with profile-prelude.lua in front of it: `prefix`, `pid`, `pk`, the
 * profile's set keys, `now` (Redis time), `state`/`into`/`created` of `p` and the helpers there are
 * defined for it (src/profiles/per-profile-layout.md §2.3).
 */
export function profileSlotScript(redis: RedisClient, name: string, file: URL): Script {
  return defineScript(redis, name, file, 1, { prelude: PRELUDE });
}
