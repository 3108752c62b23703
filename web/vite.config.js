// Vite builds the app into dist/: index.html, hashed assets under assets/, and sw.js, the
// service worker, written from src/sw.js with the list of every built file to keep offline.
import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const serviceWorker = {
  name: 'tampere-service-worker',
  apply: 'build',
  generateBundle(_options, bundle) {
    // Every hashed asset, the page itself, and the first base-map band: the shell that must
    // open without a network after one visit.
    const files = Object.keys(bundle).filter((name) => name.startsWith('assets/')).sort();
    const source = readFileSync(new URL('./src/sw.js', import.meta.url), 'utf8');
    const version = files.join(',').length.toString(36) + '-' + hash(files.join(','));
    this.emitFile({
      type: 'asset',
      fileName: 'sw.js',
      source: source
        .replace('self.__SHELL__', JSON.stringify(['/', ...files.map((f) => '/' + f)]))
        .replace('self.__VERSION__', JSON.stringify(version)),
    });
  },
};

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}

export default defineConfig({
  base: '/',
  plugins: [serviceWorker],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // MapLibre alone is ~800 kB minified (~230 kB gzipped); it loads after the list.
    chunkSizeWarningLimit: 1100,
    assetsInlineLimit: 0,
  },
});
