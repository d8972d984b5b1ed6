// One `vite build` makes everything the server serves from dist/:
//   - environment `client`: the pages demo/index.html (→ /) and demo/join.html (→ /join), and
//     demo/runner.html, the task runner the server's task origin serves (signaling/task-origin.ts
//     finds its scripts through dist/.vite/manifest.json);
//   - environment `webray`: the library runtime/index.ts as ONE ES module, dist/webray.js, with its
//     Web Workers inlined (`?worker&inline` becomes a Blob-URL module worker inside webray.js);
//     and the test entry runtime/testing.ts as dist/webray-testing.js, a small module that imports
//     ./webray.js (so a page gets one runtime instance) and adds the test hooks, which are thus
//     not in webray.js (signaling/server.ts serves it only with WEBRAY_TEST_ENTRY=1).
// Pages never bundle the library: they load it at run time with `import('/webray.js')`, so every
// page of the origin shares the one copy the server serves.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const fromRoot = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const outDir = fromRoot('./dist');

export default defineConfig({
  root: fromRoot('./demo'),
  publicDir: false,
  base: '/',
  build: {
    outDir,
    target: 'es2022',
    // No source maps: an inline worker's map would be emitted beside it but referenced relative to
    // its Blob URL, where nothing can load it; the unminified output reads well without them.
    // Unminified: names survive, so error classes keep their names, stack traces stay readable,
    // and functions shipped as source (ray.remote(fn)) keep theirs for timelines and recursion.
    minify: false,
  },
  worker: {
    // Module workers, bundled into one file each: an inline (Blob URL) worker cannot load
    // chunks by relative URL, so dynamic imports inside worker code must be inlined too.
    format: 'es',
    rolldownOptions: { output: { codeSplitting: false } },
  },
  environments: {
    client: {
      build: {
        outDir,
        emptyOutDir: true,
        manifest: true,
        rolldownOptions: {
          input: {
            index: fromRoot('./demo/index.html'),
            join: fromRoot('./demo/join.html'),
            runner: fromRoot('./demo/runner.html'),
          },
        },
      },
    },
    webray: {
      consumer: 'client',
      build: {
        outDir,
        emptyOutDir: false,
        copyPublicDir: false,
        lib: {
          entry: { webray: fromRoot('./runtime/index.ts'), 'webray-testing': fromRoot('./runtime/testing.ts') },
          formats: ['es'],
          fileName: (_format, entryName) => `${entryName}.js`,
        },
        rolldownOptions: {
          // webray.js may export more than index.ts does (what webray-testing.js imports from it),
          // so that the runtime stays in webray.js, whole, instead of moving to a shared chunk.
          preserveEntrySignatures: 'allow-extension',
        },
      },
    },
  },
  builder: {
    // Sequential: the pages build empties dist/ first, then the library is added beside them.
    async buildApp(builder) {
      await builder.build(builder.environments.client!);
      await builder.build(builder.environments.webray!);
    },
  },
});
