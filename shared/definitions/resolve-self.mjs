// A module resolve hook (node:module register): a feature repository outside this package's
// folder imports 'tributary' without installing it, so when Node cannot find the package from
// the repository, 'tributary' means the running package. A repository that installs its own
// copy gets that copy, as Node would resolve it.
// Plain JavaScript: hooks run on a loader thread of their own, before tsx compiles anything.

let selfUrl;

export function initialize(data) {
  selfUrl = data.selfUrl;
}

export async function resolve(specifier, context, next) {
  if (specifier !== 'tributary') {
    const resolved = await next(specifier, context);
    // Declarations are written as ES modules; in a folder without "type": "module" Node would
    // load a .ts file as CommonJS, where `import ... from 'tributary'` cannot work.
    if (
      resolved.format === 'commonjs' &&
      /\.ts$/.test(resolved.url) &&
      !resolved.url.includes('/node_modules/')
    ) {
      return { ...resolved, format: 'module' };
    }
    return resolved;
  }
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return { url: selfUrl, shortCircuit: true };
  }
}
