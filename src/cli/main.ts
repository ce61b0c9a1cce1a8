/**
 * The `fido` command. Each subcommand lives in commands/<name>.ts and exports `register(program)`.
 * Commands report failure by setting process.exitCode (1 for bad input, 2 for usage errors).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';

/** The version of the installed package (package.json, two folders up from here and from a build alike). */
export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function main(argv: string[]): Promise<number> {
  const program = new Command('fido')
    .description('Fido: security alerts in, explained decisions and safe actions out')
    .version(VERSION, '-V, --version', 'print the version of Fido')
    .exitOverride()
    .showHelpAfterError();
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`fido: ${(e as Error).message}\n`);
    return 1;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
