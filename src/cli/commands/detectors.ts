/** `fido detectors list`: every detector (built-in files and fido.yaml JSON mappings) with format and description. */
import type { Command } from 'commander';
import { cliRegistry } from '../detector-registry.js';
import { registerDetectorsTest } from './detectors-test.js';

export function register(program: Command): void {
  const detectors = program.command('detectors').description('Alert formats Fido understands');
  detectors
    .command('list')
    .description('List detectors: name, format (json|text) and description')
    .option('-c, --config <file>', 'config whose detectors.json mappings to include (default: $FIDO_CONFIG, else the demo)')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const registry = await cliRegistry(opts.config);
      const rows = registry.list().map((d) => ({ name: d.name, format: d.format, description: d.description }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const width = Math.max(4, ...rows.map((r) => r.name.length));
      process.stdout.write(`${'NAME'.padEnd(width)}  FORMAT  DESCRIPTION\n`);
      for (const r of rows) process.stdout.write(`${r.name.padEnd(width)}  ${r.format.padEnd(6)}  ${r.description}\n`);
    });
  registerDetectorsTest(detectors);
}
