import type { Command } from '../command.ts';
import { applyCommand } from './apply.ts';
import { consistencyCommand } from './consistency.ts';
import { getHistoricalFeaturesCommand } from './get-historical-features.ts';
import { initCommand } from './init.ts';
import { materializeCommand } from './materialize.ts';
import { monitorCommand } from './monitor.ts';
import { planCommand } from './plan.ts';
import { profileCommand } from './profile.ts';
import { quickstartCommand } from './quickstart.ts';
import { reportCommand } from './report.ts';
import { serveCommand } from './serve.ts';

/** Every command, in the order `tributary --help` lists them. */
export const commands: readonly Command[] = [
  initCommand,
  planCommand,
  applyCommand,
  materializeCommand,
  monitorCommand,
  profileCommand,
  reportCommand,
  quickstartCommand,
  serveCommand,
  getHistoricalFeaturesCommand,
  consistencyCommand,
];
