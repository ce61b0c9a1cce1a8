/** Every `fido` subcommand; add one file per command and list its register function here. */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
