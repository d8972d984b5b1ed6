// Command-line options of `npm run bench` (node bench/run.mjs [options]).

export const USAGE = `usage: npm run bench -- [options]

  --quick               short runs (warm-up 150 ms, 2 × 400 ms): a smoke test, not figures
  --duration-ms N       length of one timed run (default 1000)
  --warmup-ms N         warm-up before the timed runs (default 1000)
  --repeats N           timed runs per benchmark; the figure is their mean (default 3)
  --batch N             calls per batch in the *_async rows (default 1000, as Ray)
  --put-mb N            MiB per put in single_client_put_gigabytes (default 64)
  --filter TEXT         run only benchmarks whose name contains TEXT (also env TESTS_TO_RUN);
                        repeatable, a row matching any filter runs, with the
                        baseline and peer rows it is compared with
  --out PATH            where to write the results (default bench/results.json)
  --no-netns            do not re-run inside a loopback-only network namespace
  --verbose             echo the bench page's console
  --help                this text
`;

const DEFAULTS = {
  durationMs: 1000,
  warmupMs: 1000,
  repeats: 3,
  batch: 1000,
  putMb: 64,
  filters: [],
  out: null,
  netns: true,
  verbose: false,
  quick: false,
  help: false,
};

const QUICK = { durationMs: 400, warmupMs: 150, repeats: 2 };

function positiveInt(flag, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} wants a positive integer, got ${text}`);
  return n;
}

/** Parses argv (without node and the script); throws on an unknown flag. */
export function parseOptions(argv, env = process.env) {
  const o = { ...DEFAULTS, filters: [] };
  const explicit = new Set();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--quick': o.quick = true; break;
      case '--duration-ms': o.durationMs = positiveInt(flag, value()); explicit.add('durationMs'); break;
      case '--warmup-ms': o.warmupMs = positiveInt(flag, value()); explicit.add('warmupMs'); break;
      case '--repeats': o.repeats = positiveInt(flag, value()); explicit.add('repeats'); break;
      case '--batch': o.batch = positiveInt(flag, value()); break;
      case '--put-mb': o.putMb = positiveInt(flag, value()); break;
      case '--filter': o.filters.push(value()); break;
      case '--out': o.out = value(); break;
      case '--no-netns': o.netns = false; break;
      case '--verbose': o.verbose = true; break;
      case '--help': case '-h': o.help = true; break;
      default: throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    }
  }
  if (o.quick) for (const [k, v] of Object.entries(QUICK)) if (!explicit.has(k)) o[k] = v;
  if (env.TESTS_TO_RUN) o.filters.push(env.TESTS_TO_RUN);
  return o;
}

export function matchesFilters(name, filters) {
  return filters.length === 0 || filters.some((f) => name.includes(f));
}
