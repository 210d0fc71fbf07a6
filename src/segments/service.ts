import { PulseError } from '../errors.ts';
import type { BackfillStatus } from '../gen/pulse/v1/BackfillStatus.ts';
import type { Segment } from '../gen/pulse/v1/Segment.ts';
import type { SegmentServiceHandlers } from '../gen/pulse/v1/SegmentService.ts';
import { requireIdentifiers } from '../identity/identifier.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import { toTimestamp } from '../infra/struct.ts';
import type { ProfileStore } from '../profiles/store.ts';
import type { Backfills, RuleFactsLoader } from './backfill.ts';
import type { DefinitionChange } from './definition-changes.nats.ts';
import type { BackfillProgress, RedisSegmentDefinitions, SegmentVersion } from './definitions.redis.ts';
import { estimateSize } from './estimate.ts';
import { explain, type Explanation } from './explain.ts';
import { evaluateAll, newSegment, SEGMENT_ID_PATTERN, validateDefinitions, type SegmentDefinition } from './model.ts';
import { factsFrom, type Rule } from './rule.ts';
import { parseRuleSource, printRule } from './rule-text.ts';
import type { ProfileIndex, SegmentStore } from './store.ts';

/** What the segment service works with besides the segment store. */
export interface SegmentLifecycle {
  readonly definitions: RedisSegmentDefinitions;
  /** The profiles Estimate samples, and their stored membership for Explain. */
  readonly index: ProfileIndex;
  readonly backfills: Backfills;
  readonly loader: RuleFactsLoader;
  readonly profiles: ProfileStore;
  /** Tells caches of names and membership that a definition changed. */
  announce(tenant: string, change: DefinitionChange): Promise<void>;
}

const DEFAULT_SAMPLE = 2_000;
const MAX_SAMPLE = 20_000;
/** Profiles whose facts are read in one round trip while estimating. */
const ESTIMATE_CHUNK = 500;

/** gRPC SegmentService: definitions with versions, validation, estimates, explanations and backfills. */
export function segmentHandlers(ctx: HandlerContext, store: SegmentStore, life: SegmentLifecycle, now: () => number = Date.now): SegmentServiceHandlers {
  const { definitions, index, backfills, loader } = life;
  const encodeProgress = (p: BackfillProgress): BackfillStatus => ({
    state: p.state, version: p.version, profilesDone: p.done, profilesTotal: p.total, entered: p.entered, exited: p.exited,
    ...(p.startedAt === undefined ? {} : { startedAt: toTimestamp(p.startedAt) }),
    ...(p.finishedAt === undefined ? {} : { finishedAt: toTimestamp(p.finishedAt) }),
    error: p.error,
  });
  const encode = (d: SegmentVersion, progress?: BackfillProgress): Segment => ({
    id: d.id, name: d.name, rule: d.rule, createdAt: toTimestamp(d.createdAt), version: d.version, updatedAt: toTimestamp(d.updatedAt),
    ...(progress === undefined ? {} : { backfill: encodeProgress(progress) }),
  });
  const requireId = (id: string): string => {
    if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `id: must match ${SEGMENT_ID_PATTERN.source}`, { field: 'id' });
    return id;
  };
  const requireSegment = async (tenant: string, id: string): Promise<SegmentVersion> => {
    const def = await definitions.current(tenant, requireId(id));
    if (def === undefined) throw new PulseError('NOT_FOUND', `segment ${id} not found`);
    return def;
  };
  /** Refuses a definition that would reference missing segments or make a cycle with the stored ones. */
  const requireConsistent = async (tenant: string, draft: SegmentDefinition): Promise<void> => {
    const stored = (await store.list(tenant)).filter((d) => d.id !== draft.id);
    const problem = validateDefinitions([...stored, draft])[0];
    if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', `${problem.field}: ${problem.message}`, { field: 'rule' });
  };
  /** A draft rule, or the rule of the stored segment `id`. */
  const ruleOf = async (tenant: string, source: string, id: string): Promise<{ rule: Rule; id: string }> => {
    if (source !== '') return { rule: parseRuleSource(source), id: id === '' ? 'draft' : requireId(id) };
    if (id === '') throw new PulseError('INVALID_ARGUMENT', 'rule: a rule or the id of a segment is required', { field: 'rule' });
    const def = await requireSegment(tenant, id);
    return { rule: parseRuleSource(def.rule), id: def.id };
  };

  return {
    CreateSegment: unary(ctx, 'CreateSegment', 'segments:write', async (req, principal) => {
      const def = newSegment({ id: req.id, name: req.name, rule: req.rule }, now());
      await requireConsistent(principal.tenant, def);
      await store.create(principal.tenant, def);
      const v = await definitions.recordCreated(principal.tenant, def);
      await backfills.start(principal.tenant, v);
      await life.announce(principal.tenant, { kind: 'created', segmentId: v.id, version: v.version });
      return encode(v, await definitions.progress(principal.tenant, v.id));
    }),
    UpdateSegment: unary(ctx, 'UpdateSegment', 'segments:write', async (req, principal) => {
      const id = requireId(req.id);
      const name = req.name.trim();
      if (name.length > 256) throw new PulseError('INVALID_ARGUMENT', 'name: at most 256 characters', { field: 'name' });
      const current = await requireSegment(principal.tenant, id);
      const draft = { ...current, name: name === '' ? current.name : name, rule: req.rule === '' ? current.rule : req.rule };
      if (draft.rule !== current.rule) {
        parseRuleSource(draft.rule);
        await requireConsistent(principal.tenant, draft);
      }
      const v = await definitions.update(principal.tenant, id, draft, now());
      if (v.rule !== current.rule) await backfills.start(principal.tenant, v);
      await life.announce(principal.tenant, { kind: 'updated', segmentId: id, version: v.version });
      return encode(v, await definitions.progress(principal.tenant, id));
    }),
    GetSegment: unary(ctx, 'GetSegment', 'segments:read', async (req, principal) => {
      const def = await requireSegment(principal.tenant, req.id);
      return encode(def, await definitions.progress(principal.tenant, def.id));
    }),
    ListSegments: unary(ctx, 'ListSegments', 'segments:read', async (_req, principal) => {
      const list = await store.list(principal.tenant);
      const current = await Promise.all(list.map((d) => definitions.current(principal.tenant, d.id)));
      return { segments: current.flatMap((d) => (d === undefined ? [] : [encode(d)])) };
    }),
    ListSegmentVersions: unary(ctx, 'ListSegmentVersions', 'segments:read', async (req, principal) => {
      const versions = await definitions.versions(principal.tenant, requireId(req.id));
      if (versions.length === 0) throw new PulseError('NOT_FOUND', `segment ${req.id} not found`);
      return { versions: versions.map((v) => encode(v)) };
    }),
    DeleteSegment: unary(ctx, 'DeleteSegment', 'segments:write', async (req, principal) => {
      const deleted = await store.delete(principal.tenant, requireId(req.id));
      if (!deleted) throw new PulseError('NOT_FOUND', `segment ${req.id} not found`);
      await definitions.forget(principal.tenant, req.id);
      await life.announce(principal.tenant, { kind: 'deleted', segmentId: req.id, version: 0 });
      return { deleted };
    }),
    ValidateRule: unary(ctx, 'ValidateRule', 'segments:read', async (req, principal) => {
      const id = req.id === '' ? 'draft' : requireId(req.id);
      const stored = (await store.list(principal.tenant)).filter((d) => d.id !== id);
      const problems = validateDefinitions([...stored, { id, name: id, rule: req.rule, createdAt: 0 }]);
      let forms = { json: '', text: '' };
      try {
        const rule = parseRuleSource(req.rule);
        forms = { json: JSON.stringify(rule), text: printRule(rule) };
      } catch (err) {
        if (!(err instanceof PulseError)) throw err;
      }
      return { valid: problems.length === 0, problems: problems.map((p) => ({ field: p.field, message: p.message, segment: p.segment })), ...forms };
    }),
    EstimateSegment: unary(ctx, 'EstimateSegment', 'segments:read', async (req, principal) => {
      const tenant = principal.tenant;
      const { rule, id } = await ruleOf(tenant, req.rule, req.id);
      if (req.sampleSize < 0 || req.sampleSize > MAX_SAMPLE) throw new PulseError('INVALID_ARGUMENT', `sample_size: 0-${MAX_SAMPLE}`, { field: 'sample_size' });
      const n = req.sampleSize === 0 ? DEFAULT_SAMPLE : req.sampleSize;
      const population = await index.indexSize(tenant);
      const sample = await index.sampleProfiles(tenant, n);
      const live = sample.filter((s) => s.live).map((s) => s.id);
      const at = now();
      // Chunks are read concurrently: their commands share the connection's pipeline.
      const chunks: string[][] = [];
      for (let i = 0; i < live.length; i += ESTIMATE_CHUNK) chunks.push(live.slice(i, i + ESTIMATE_CHUNK));
      const counts = await Promise.all(chunks.map(async (chunk) => {
        const { facts } = await loader.load(tenant, chunk, rule, at);
        return [...facts.values()].filter((f) => evaluateAll([{ id, rule }], f.facts, at)[0]?.[1] === true).length;
      }));
      const matches = counts.reduce((a, b) => a + b, 0);
      const size = estimateSize({ population, sampled: sample.length, matches });
      return {
        estimate: size.estimate, low: size.low, high: size.high, sampleSize: sample.length, sampleMatches: matches, population, exact: size.exact,
        note: 'uniform sample of the profile index without replacement; 95% Wilson interval with finite-population correction; windowed event history from the warehouse where Redis keeps none',
      };
    }),
    ExplainSegment: unary(ctx, 'ExplainSegment', 'segments:read', async (req, principal) => {
      const tenant = principal.tenant;
      const { rule, id } = await ruleOf(tenant, req.rule, req.id);
      const pid = req.profileId !== '' ? req.profileId : await life.profiles.resolve(tenant, requireIdentifiers(req.identifiers));
      const profile = pid === undefined ? undefined : await life.profiles.get(tenant, pid);
      if (pid === undefined || profile === undefined) throw new PulseError('NOT_FOUND', 'no profile for these identifiers');
      const at = now();
      const loaded = (await loader.load(tenant, [pid], rule, at)).facts.get(pid);
      if (loaded === undefined) throw new PulseError('NOT_FOUND', `profile ${pid} not found`);
      const e = explain(rule, factsFrom(loaded.facts, at));
      const member = (await index.signals(tenant, [pid])).get(pid)?.segments.has(id) === true;
      return { profileId: pid, result: e.result, explanationJson: JSON.stringify(e), explanationText: explanationLines(e, '').join('\n'), member };
    }),
    GetBackfillStatus: unary(ctx, 'GetBackfillStatus', 'segments:read', async (req, principal) => {
      const def = await requireSegment(principal.tenant, req.id);
      const progress = await definitions.progress(principal.tenant, def.id);
      if (progress === undefined) throw new PulseError('NOT_FOUND', `segment ${req.id} has no backfill`);
      return encodeProgress(progress);
    }),
  };
}

/** The explanation as indented lines, `[x]` for a node that held and `[ ]` for one that did not. */
function explanationLines(e: Explanation, indent: string): string[] {
  const mark = e.result ? '[x]' : '[ ]';
  if ('all' in e) return [`${indent}${mark} all`, ...e.all.flatMap((c) => explanationLines(c, `${indent}  `))];
  if ('any' in e) return [`${indent}${mark} any`, ...e.any.flatMap((c) => explanationLines(c, `${indent}  `))];
  if ('not' in e) return [`${indent}${mark} not`, ...explanationLines(e.not, `${indent}  `)];
  return [`${indent}${mark} ${e.text}${e.observed === undefined ? '' : `   (saw ${JSON.stringify(e.observed)})`}`];
}
