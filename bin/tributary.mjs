#!/usr/bin/env node
// Tributary runs from its TypeScript sources: tsx compiles them on load (and the user's
// feature definitions with them), so there is no separate build output to keep in step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
