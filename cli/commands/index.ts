import type { Command } from '../command.ts';
import { applyCommand } from './apply.ts';
import { materializeCommand } from './materialize.ts';
import { planCommand } from './plan.ts';
import { quickstartCommand } from './quickstart.ts';

/** Every command, in the order `tributary --help` lists them. */
export const commands: readonly Command[] = [
  planCommand,
  applyCommand,
  materializeCommand,
  quickstartCommand,
];
