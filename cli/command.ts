/** One `tributary <name>` command. Each lives in `cli/commands/<name>.ts`. */
export interface Command {
  name: string;
  /** One line for `tributary --help`. */
  summary: string;
  /** The full `tributary <name> --help` text: usage, options, examples. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}
