// Validation of remote-function, actor and method options (Ray's ray_option_utils.py): an unknown
// or invalid option is refused at once, naming the option, with a suggestion for near-misses.

import { rtcConfigFromOptions, type IceServer, type RtcConfig } from '../protocol/rtc-config.ts';
import * as v from 'valibot';
import { MAX_CALLS, MAX_NAME_CHARS, MAX_NUM_RETURNS, MAX_REPLICAS, MAX_TOTAL_REPLICAS } from '../protocol/limits.ts';

/** An error class for `retryExceptions`: the built-ins and user-defined subclasses alike. */
export type ErrorClass = abstract new (...args: never[]) => Error;

const nonNegative = v.pipe(v.number(), v.minValue(0), v.finite());
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const resourcesSchema = v.record(v.string(), nonNegative);
const strategySchema = v.union([
  v.picklist(['DEFAULT', 'SPREAD']),
  v.strictObject({ nodeId: v.pipe(v.string(), v.minLength(1)), soft: v.optional(v.boolean(), false) }),
]);
const retryExceptionsSchema = v.union([
  v.boolean(),
  v.array(v.union([v.pipe(v.string(), v.minLength(1)), v.custom<ErrorClass>((x) => typeof x === 'function')])),
]);
const numReturnsSchema = v.union([
  v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_NUM_RETURNS, `at most ${MAX_NUM_RETURNS} return values (return an array as one value instead)`)),
  v.literal('streaming'),
]);
const scopeSchema = v.record(v.string(), v.unknown());
const replicasSchema = v.pipe(
  v.number(),
  v.integer('a whole number of replicas'),
  v.minValue(1, 'at least 1 replica'),
  v.maxValue(MAX_REPLICAS, `at most ${MAX_REPLICAS} replicas`),
);
const maxReplicasSchema = v.pipe(
  v.number(),
  v.integer('a whole number of replicas'),
  v.minValue(1, 'at least 1 replica'),
  v.maxValue(MAX_TOTAL_REPLICAS, `at most ${MAX_TOTAL_REPLICAS} replicas in all`),
);
const verificationSchema = v.strictObject({
  replicas: v.optional(replicasSchema),
  spotCheck: v.optional(v.pipe(v.number(), v.minValue(0, 'a fraction from 0 to 1'), v.maxValue(1, 'a fraction from 0 to 1'))),
  quarantineAfter: v.optional(v.pipe(v.number(), v.integer('a whole number of mismatches'), v.minValue(1, 'at least 1 mismatch'), v.maxValue(1000, 'at most 1000 mismatches'))),
});

/** A namespace of actor names (Ray's namespaces). */
const namespaceSchema = v.pipe(v.string(), v.minLength(1, 'a non-empty namespace'), v.maxLength(MAX_NAME_CHARS, `at most ${MAX_NAME_CHARS} characters`));

const common = {
  numCpus: v.optional(nonNegative),
  numGpus: v.optional(nonNegative),
  resources: v.optional(resourcesSchema),
  name: v.optional(v.pipe(v.string(), v.minLength(1))),
  scope: v.optional(scopeSchema),
  schedulingStrategy: v.optional(strategySchema),
  enableTaskEvents: v.optional(v.boolean()),
  replicas: v.optional(replicasSchema),
  maxReplicas: v.optional(maxReplicasSchema),
};

const taskSchema = v.strictObject({
  ...common,
  numReturns: v.optional(numReturnsSchema),
  maxRetries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1))),
  retryExceptions: v.optional(retryExceptionsSchema),
  generatorBackpressureNumObjects: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  timeoutMs: v.optional(v.pipe(v.number(), v.finite(), v.gtValue(0, 'a timeout in ms greater than 0'))),
  maxCalls: v.optional(v.pipe(v.number(), v.integer('a whole number of calls'), v.minValue(0, '0 (no limit) or more calls'), v.maxValue(MAX_CALLS, `at most ${MAX_CALLS} calls`))),
});

const actorSchema = v.strictObject({
  ...common,
  maxRestarts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1))),
  maxTaskRetries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1))),
  maxConcurrency: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** With `name`: when a live actor has that name, `.remote()` gives a handle to it instead of failing. */
  getIfExists: v.optional(v.boolean()),
  /** The namespace its name lives in (default: the job's, `init({ namespace })`). */
  namespace: v.optional(namespaceSchema),
  /** 'detached': the actor lives until ray.kill, not only while handles to it exist. */
  lifetime: v.optional(v.picklist(['detached', 'non_detached'], "'detached' or 'non_detached'")),
});

const methodSchema = v.strictObject({
  numReturns: v.optional(numReturnsSchema),
  /** Retry the call when its code throws (all errors, or these classes), within the actor's maxTaskRetries. */
  retryExceptions: v.optional(retryExceptionsSchema),
  name: v.optional(v.pipe(v.string(), v.minLength(1))),
  enableTaskEvents: v.optional(v.boolean()),
  generatorBackpressureNumObjects: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

const initSchema = v.strictObject({
  address: v.optional(v.pipe(v.string(), v.url())),
  cluster: v.optional(v.pipe(v.string(), v.minLength(1))),
  token: v.optional(v.string()),
  coordinatorSecret: v.optional(v.pipe(v.string(), v.minLength(1))),
  numCpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  numGpus: v.optional(count),
  resources: v.optional(resourcesSchema),
  objectStoreMemory: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Shorthand for rtcConfig.iceServers; both are checked field by field by protocol/rtc-config.ts (validateInitOptions). */
  iceServers: v.optional(v.custom<readonly IceServer[]>(() => true)),
  /** Passed to every RTCPeerConnection. */
  rtcConfig: v.optional(v.custom<RtcConfig>(() => true)),
  /** Where this tab's node runs task code: the server's task origin ('origin') or this page's own workers ('none'). */
  isolation: v.optional(v.picklist(['origin', 'none'])),
  verification: v.optional(verificationSchema),
  /** The job's namespace for actor names (default 'default'). */
  namespace: v.optional(namespaceSchema),
  /** Finished tasks kept for `ray.tasks()` and `ray.timeline()` (default 100,000, as Ray's task events). */
  maxTaskEvents: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

export type Strategy = v.InferOutput<typeof strategySchema>;
export type TaskOptions = v.InferInput<typeof taskSchema>;
export type ActorOptions = v.InferInput<typeof actorSchema>;
export type MethodOptions = v.InferInput<typeof methodSchema>;
export type InitOptions = v.InferInput<typeof initSchema>;
/** `ray.init({ verification })`: the cluster's default `replicas`, its `spotCheck` fraction and the mismatches that quarantine a node (`quarantineAfter`). */
export type VerificationOptions = v.InferOutput<typeof verificationSchema>;

const HINTS: Record<string, string> = {
  numCPUs: 'numCpus',
  num_cpus: 'numCpus',
  numGPUs: 'numGpus',
  num_gpus: 'numGpus',
  num_returns: 'numReturns',
  max_retries: 'maxRetries',
  retry_exceptions: 'retryExceptions',
  max_restarts: 'maxRestarts',
  max_task_retries: 'maxTaskRetries',
  max_concurrency: 'maxConcurrency',
  scheduling_strategy: 'schedulingStrategy',
  timeout: 'timeoutMs',
  timeout_ms: 'timeoutMs',
  max_calls: 'maxCalls',
  num_returns_: 'numReturns',
  max_replicas: 'maxReplicas',
  replica: 'replicas',
  num_replicas: 'replicas',
  spot_check: 'spotCheck',
};

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The known option closest to an unknown one, if it is close enough. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  if (HINTS[key] && known.includes(HINTS[key])) return HINTS[key];
  const lower = key.toLowerCase().replace(/_/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = levenshtein(lower, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= 2 ? best : undefined;
}

function check<S extends v.GenericSchema>(schema: S, keys: readonly string[], input: unknown, what: string): v.InferOutput<S> {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`${what} must be an object of options, got ${input === null ? 'null' : typeof input}`);
  }
  for (const key of Object.keys(input)) {
    if (!keys.includes(key)) {
      const hint = suggest(key, keys);
      throw new TypeError(
        `unknown option "${key}" for ${what}` +
          (hint ? ` — did you mean ${hint}?` : `; valid options are: ${keys.join(', ')}`),
      );
    }
  }
  const result = v.safeParse(schema, input);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.map((p: { key: unknown }) => String(p.key)).join('.') ?? '?';
    const got = issue.input === undefined ? 'undefined' : safeJson(issue.input);
    throw new TypeError(`invalid option ${key} for ${what}: ${issue.expected ? `expected ${issue.expected}, ` : ''}got ${got} (${issue.message})`);
  }
  return result.output;
}

function safeJson(x: unknown): string {
  if (typeof x === 'function') return 'a function';
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

const taskKeys = Object.keys(taskSchema.entries);
const actorKeys = Object.keys(actorSchema.entries);
const methodKeys = Object.keys(methodSchema.entries);
const initKeys = Object.keys(initSchema.entries);

export function validateTaskOptions(input: unknown, what = 'a remote function'): v.InferOutput<typeof taskSchema> {
  return check(taskSchema, taskKeys, input, what);
}
export function validateActorOptions(input: unknown, what = 'an actor class'): v.InferOutput<typeof actorSchema> {
  return check(actorSchema, actorKeys, input, what);
}
export function validateMethodOptions(input: unknown, what = 'an actor method'): v.InferOutput<typeof methodSchema> {
  return check(methodSchema, methodKeys, input, what);
}
export function validateInitOptions(input: unknown, what = 'ray.init'): v.InferOutput<typeof initSchema> {
  if (typeof input === 'object' && input !== null && 'verification' in input && input.verification !== undefined) {
    // Checked first, so an unknown key in it is named (with a suggestion) as a top-level one is.
    check(verificationSchema, Object.keys(verificationSchema.entries), input.verification, `${what} verification`);
  }
  const out = check(initSchema, initKeys, input, what);
  rtcConfigFromOptions(out.rtcConfig, out.iceServers, what);
  return out;
}
/** `ray.join`'s options: init's, without the driver's own (`verification` is the cluster's, set by its driver). */
export function validateJoinOptions(input: unknown, what = 'ray.join'): v.InferOutput<typeof initSchema> {
  if (typeof input === 'object' && input !== null && 'verification' in input) {
    throw new TypeError(`${what}: verification is set by the cluster's driver (ray.init({ verification })), not by a volunteer`);
  }
  if (typeof input === 'object' && input !== null && 'namespace' in input) {
    throw new TypeError(`${what}: namespace is the job's, set by the cluster's driver (ray.init({ namespace })), not by a volunteer`);
  }
  if (typeof input === 'object' && input !== null && 'maxTaskEvents' in input) {
    throw new TypeError(`${what}: maxTaskEvents is the driver's, set by ray.init({ maxTaskEvents }), not by a volunteer`);
  }
  return validateInitOptions(input, what);
}

/** Error class names from a `retryExceptions` list (classes or names). */
export function retryExceptionNames(x: boolean | readonly (string | ErrorClass)[] | undefined): boolean | string[] {
  if (x === undefined) return false;
  if (typeof x === 'boolean') return x;
  return x.map((e) => (typeof e === 'string' ? e : e.name));
}
