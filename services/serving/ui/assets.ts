/**
 * The dashboard's scripts and styles, read once from the product's own files and node_modules:
 * nothing is fetched from a CDN, so the pages and the report work on an air-gapped install.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface Asset {
  body: string;
  type: string;
}

let loaded: Record<string, Asset> | null = null;

/** By file name under /ui/assets/. */
export function assets(): Record<string, Asset> {
  loaded ??= {
    'uPlot.min.css': {
      body: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
      type: 'text/css; charset=utf-8',
    },
    'uPlot.iife.min.js': {
      body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      type: 'text/javascript; charset=utf-8',
    },
    'dashboard.css': {
      body: readFileSync(new URL('./assets/dashboard.css', import.meta.url), 'utf8'),
      type: 'text/css; charset=utf-8',
    },
    'dashboard.js': {
      body: readFileSync(new URL('./assets/dashboard.js', import.meta.url), 'utf8'),
      type: 'text/javascript; charset=utf-8',
    },
  };
  return loaded;
}

/** Tags that load the assets from the server (the dashboard). */
export const LINKED_ASSETS = {
  head: [
    '<link rel="stylesheet" href="/ui/assets/uPlot.min.css">',
    '<link rel="stylesheet" href="/ui/assets/dashboard.css">',
    '<script src="/ui/assets/uPlot.iife.min.js" defer></script>',
  ].join('\n'),
  script: '<script src="/ui/assets/dashboard.js" defer></script>',
};

/** `</` cannot close the element early once escaped as `<\/`, which JS and CSS read the same way. */
const inline = (text: string) => text.replaceAll('</', '<\\/');

/** The same assets inlined, for a self-contained report file. */
export function inlineAssets(): { head: string; script: string } {
  const a = assets();
  return {
    head: `<style>${a['uPlot.min.css']!.body.replaceAll('</', '<\\/')}</style>\n<style>${a['dashboard.css']!.body}</style>\n<script>${inline(a['uPlot.iife.min.js']!.body)}</script>`,
    script: `<script>${inline(a['dashboard.js']!.body)}</script>`,
  };
}
