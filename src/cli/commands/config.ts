/** `fido config validate [FILE]`: errors name the key and the line. */
import type { Command } from 'commander';
import { checkConfigFile } from '../../config/load.js';
import { formatConfigErrors } from '../../config/validate.js';

export function register(program: Command): void {
  const config = program.command('config').description('Configuration tools');
  config
    .command('validate [file]')
    .description('Check a fido.yaml (default: $FIDO_CONFIG, else the demo configuration)')
    .action(async (file: string | undefined) => {
      const r = await checkConfigFile(file);
      if (r.errors.length) {
        process.stderr.write(`${formatConfigErrors(r.file, r.errors)}\n${r.errors.length} error(s)\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${r.file}: valid\n`);
    });
}
