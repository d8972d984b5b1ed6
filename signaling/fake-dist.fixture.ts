// A dist/ folder as `vite build` makes it, small: the pages, webray.js, the task runner and the
// manifest the task origin reads — for server tests that must not depend on a real build.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A stand-in for dist/ as `vite build` leaves it, with the manifest naming the runner's chunks. */
export async function fakeDist(root: string): Promise<string> {
  const dist = path.join(root, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await mkdir(path.join(dist, '.vite'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': '<!doctype html><title>webray</title>',
    'join.html': '<!doctype html><title>join</title>',
    'runner.html': '<!doctype html><title>webray task runner</title>',
    'webray.js': 'export function isInitialized() { return false; }',
    'assets/runner-AbC1.js': 'console.log("runner")',
    'assets/modulepreload-polyfill-XyZ2.js': '/* polyfill */',
    'assets/index-QrS3.js': 'console.log("demo page")',
    'assets/style-TuV4.css': 'body{}',
    '.vite/manifest.json': JSON.stringify({
      '_modulepreload-polyfill-XyZ2.js': { file: 'assets/modulepreload-polyfill-XyZ2.js', name: 'modulepreload-polyfill' },
      '_style-TuV4.css': { file: 'assets/style-TuV4.css', src: '_style-TuV4.css' },
      'index.html': {
        file: 'assets/index-QrS3.js',
        isEntry: true,
        imports: ['_modulepreload-polyfill-XyZ2.js'],
        css: ['assets/style-TuV4.css'],
      },
      'runner.html': { file: 'assets/runner-AbC1.js', isEntry: true, imports: ['_modulepreload-polyfill-XyZ2.js'] },
    }),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dist, name), text);
  await writeFile(path.join(root, 'secret.json'), '{"secret":true}');
  return dist;
}
