import type { Command } from '../command.ts';
import { smokeCommand } from './smoke.ts';

/** Every command, in the order `tributary --help` lists them. */
export const commands: readonly Command[] = [smokeCommand];
